"""Training data: both facesets in memory at model resolution, with masks and augmentation.

The input of a sample is randomly warped (a smooth perturbed grid plus a small affine); its target
is the same face unwarped, so the network learns to produce a clean face from a distorted one,
which is what lets it render one person's face from another's code. Flip and HSV jitter apply
to both. The target mask is the landmark hull, and the eyes and mouth get extra weight. A share
of src samples is first given a random expression (train/expressions.py), input and target alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch

from faceweave.color import transfer
from faceweave.errors import UserError
from faceweave.facemasks import landmark_masks
from faceweave.formats.aligned import list_face_files, read_aligned_face
from faceweave.models import to_tensor
from faceweave.occlusion.labels import read_mask
from faceweave.quality.features import features
from faceweave.records import ImageBGR
from faceweave.train.expressions import EXPRESSIONS, express, random_amounts

# Expression measures kept per face (quality/features.py), for balanced sampling and coverage.
EXPRESSION_NAMES = ("mouth_open", "eye_open", "smile", "brow_raise")
# Loss weight (plain skin = 1) of an augmented mouth's painted opening: a guess, not src.
CAVITY_WEIGHT = 0.2


@dataclass(frozen=True)
class Faceset:
    """Faces (N, R, R, 3) uint8 BGR, masks (N, R, R) float32 in [0, 1], eye/mouth weights,
    landmarks (N, 478, 2) in model pixels, and per face its yaw and expression measures (N, 4)."""

    faces: npt.NDArray[np.uint8]
    masks: npt.NDArray[np.float32]
    features: npt.NDArray[np.float32]
    yaw: npt.NDArray[np.float32]
    face_type: str = "full"
    landmarks: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 478, 2), np.float32))
    expression: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 4), np.float32))


def load_faceset(folder: Path, resolution: int, limit: int | None = None, occlusion: bool = False) -> Faceset:
    """Every face of `folder` at `resolution`, with masks and measures. With `occlusion`, what the
    occluder segmenter finds in front of a face is cut out of its mask, so the loss never asks the
    model to draw a hand as part of a face (nor the learnt mask to cover it)."""
    files = list_face_files(folder)[:limit] if limit else list_face_files(folder)
    if not files:
        raise UserError(f"{folder} holds no aligned faces; run `faceweave extract` first")
    faces, masks, feature_masks, yaw, types = [], [], [], [], set()
    landmarks, expression = [], []
    for path in files:
        image, meta = read_aligned_face(path)
        types.add(meta.face_type)
        faces.append(cv2.resize(image, (resolution, resolution), interpolation=cv2.INTER_AREA))
        scale = resolution / meta.size_px
        hull, feature = landmark_masks(meta.landmarks_crop, resolution, scale)
        taught = read_mask(path, resolution)  # a user's mask, where `mask apply` wrote one
        hull = taught if taught is not None else hull
        masks.append(hull)
        feature_masks.append(feature)
        yaw.append(meta.pose.yaw)
        landmarks.append(meta.landmarks_crop[:, :2] * scale)  # as landmark_masks reads them
        measured = features(meta.landmarks_frame)
        expression.append([getattr(measured, name) for name in EXPRESSION_NAMES])
    if len(types) > 1:
        raise UserError(
            f"{folder} mixes face types ({', '.join(sorted(types))}); re-extract it with one --face-type"
        )
    hulls, stacked = np.stack(masks), np.asarray(np.stack(faces), np.uint8)
    if occlusion:
        hulls = hulls * visible_parts(list(stacked), resolution)
    return Faceset(
        stacked, hulls, np.stack(feature_masks), np.array(yaw, np.float32), types.pop(),
        np.asarray(landmarks, np.float32), np.nan_to_num(np.asarray(expression, np.float32)),
    )  # fmt: skip


def visible_parts(faces: list[ImageBGR], resolution: int, batch: int = 64) -> npt.NDArray[np.float32]:
    """(N, R, R): 1 where no occluder covers the face, by the shipped segmenter."""
    from faceweave.occlusion.segmenter import shipped_segmenter, visible

    segmenter = shipped_segmenter()
    out = [
        visible(p, resolution)
        for k in range(0, len(faces), batch)
        for p in segmenter.occlusion(faces[k : k + batch])
    ]
    return np.stack(out).astype(np.float32)


def _bin(values: npt.NDArray[np.float32], bins: int) -> npt.NDArray[np.int64]:
    edges = np.linspace(values.min(), values.max() + 1e-6, bins + 1)
    return np.asarray(np.clip(np.digitize(values, edges) - 1, 0, bins - 1), np.int64)


def balanced_indices(
    columns: list[tuple[npt.NDArray[np.float32], int]], count: int, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """Sample so that every occupied cell of the grid of (values, bins) columns is drawn equally
    often: rare views or expressions are not drowned by common ones (DeepFaceLab's uniform_yaw,
    here over several measures at once)."""
    cell = np.zeros(len(columns[0][0]), np.int64)
    for values, bins in columns:
        cell = cell * bins + _bin(values, bins)
    groups = [np.flatnonzero(cell == c) for c in np.unique(cell)]
    picks = rng.integers(0, len(groups), count)
    return np.array([groups[g][rng.integers(0, len(groups[g]))] for g in picks], np.int64)


def sampling_columns(faceset: Faceset, uniform_yaw: bool, uniform_expression: bool
                     ) -> list[tuple[npt.NDArray[np.float32], int]]:  # fmt: skip
    """The measures to balance: yaw in 8 bins; mouth opening in 3 and eye opening in 2."""
    columns = [(faceset.yaw, 8)] if uniform_yaw else []
    if uniform_expression and len(faceset.expression):
        columns += [(faceset.expression[:, 0], 3), (faceset.expression[:, 1], 2)]
    return columns


def random_warp(image: ImageBGR, rng: np.random.Generator, strength: float = 0.06) -> ImageBGR:
    """A smooth random distortion: a 5x5 grid of offsets upsampled, plus a small rotation/scale."""
    size = image.shape[0]
    coarse = rng.normal(0, strength * size / 2.5, (2, 5, 5)).astype(np.float32)
    flow = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_CUBIC) for c in coarse])
    angle, scale = rng.uniform(-8, 8), rng.uniform(0.95, 1.05)
    affine = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    grid_y, grid_x = np.mgrid[0:size, 0:size].astype(np.float32)
    map_x = affine[0, 0] * grid_x + affine[0, 1] * grid_y + affine[0, 2] + flow[0]
    map_y = affine[1, 0] * grid_x + affine[1, 1] * grid_y + affine[1, 2] + flow[1]
    return np.asarray(
        cv2.remap(
            image,
            map_x.astype(np.float32),
            map_y.astype(np.float32),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        ),
        np.uint8,
    )


def hsv_jitter(image: ImageBGR, rng: np.random.Generator) -> ImageBGR:
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + rng.integers(-4, 5)) % 180
    hsv[..., 1:] = np.clip(hsv[..., 1:] * rng.uniform(0.9, 1.1, 2), 0, 255)
    return np.asarray(cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR), np.uint8)


@dataclass(frozen=True)
class Batch:
    """Tensors NCHW float32 in [0, 1] (RGB); masks and weights N1HW."""

    inputs: torch.Tensor
    targets: torch.Tensor
    masks: torch.Tensor
    weights: torch.Tensor


def recolor(face: ImageBGR, mask: npt.NDArray[np.float32], mode: str, reference: Faceset,
            rng: np.random.Generator) -> ImageBGR:  # fmt: skip
    """`face` with the colours of a random face of `reference`, compared inside both hulls."""
    j = int(rng.integers(0, len(reference.faces)))
    moved = transfer(mode, face.astype(np.float32) / 255, reference.faces[j].astype(np.float32) / 255,
                     mask, reference.masks[j])  # fmt: skip
    return np.asarray(np.clip(moved * 255 + 0.5, 0, 255), np.uint8)


def make_batch(
    faceset: Faceset,
    indices: npt.NDArray[np.int64],
    rng: np.random.Generator,
    warp: bool = True,
    feature_weight: float = 3.0,
    recolor_toward: tuple[str, Faceset] | None = None,
    expression_share: float = 0.0,
    expression_kinds: tuple[str, ...] = EXPRESSIONS,
) -> Batch:
    inputs, targets, masks, weights = [], [], [], []
    for i in indices:
        face, mask, feature = faceset.faces[i], faceset.masks[i], faceset.features[i]
        if recolor_toward is not None:
            face = recolor(face, mask, *recolor_toward, rng)
        guess = np.zeros_like(mask)
        if expression_share > 0 and rng.random() < expression_share:
            amounts = random_amounts(rng, expression_kinds)
            expressed = express(face, faceset.landmarks[i].astype(np.float64), amounts)
            face, guess = expressed.face, expressed.cavity
            mask, feature = landmark_masks(expressed.landmarks, face.shape[0], 1.0)
        if rng.random() < 0.5:
            face, mask, feature, guess = face[:, ::-1], mask[:, ::-1], feature[:, ::-1], guess[:, ::-1]
        face = hsv_jitter(np.ascontiguousarray(face), rng)
        targets.append(face)
        inputs.append(random_warp(face, rng) if warp else face)
        masks.append(mask)
        weight = mask * (1.0 + (feature_weight - 1.0) * feature)
        weights.append(weight * (1.0 - guess) + CAVITY_WEIGHT * mask * guess)
    return Batch(
        to_tensor(np.stack(inputs)),
        to_tensor(np.stack(targets)),
        torch.from_numpy(np.ascontiguousarray(np.stack(masks)))[:, None],
        torch.from_numpy(np.ascontiguousarray(np.stack(weights), dtype=np.float32))[:, None],
    )

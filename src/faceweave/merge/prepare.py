"""From dst face files to swapped faces ready to paste: predict, mask, colour, in frame order.

This runs ahead of the frame decoder in batches of `batch_size` faces, so the model sees full
batches and memory holds only a window of faces, however long the video. Colour statistics are
smoothed per track in frame order here, before frames fan out to parallel workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch

from faceweave.color import Stats
from faceweave.config import MergeConfig
from faceweave.formats.aligned import FaceMeta, read_aligned_face
from faceweave.geometry import Affine, compose, resample_matrix, scale_about_centre
from faceweave.merge.mask_sources import MaskInputs, MaskSource, open_sources
from faceweave.merge.masks import mouth_mask, refine, resize_mask, skin_mask
from faceweave.merge.session import MergeSession
from faceweave.merge.shading import match_shading
from faceweave.merge.temporal import TemporalFilter
from faceweave.models import FaceSwapModel, to_tensor
from faceweave.registries import BLENDS, COLORS

# (frame, track, what...) -> a mask source's output or a colour transfer's result, for redraws of
# one frame; a merge through time does not use it (colour smoothing and steadiness carry state).
Memo = dict[tuple[object, ...], npt.NDArray[np.float32]]
MASK_SIZE_CAP = 256  # masks are smooth: more pixels only cost time


@dataclass(frozen=True)
class PreparedFace:
    """A swapped face and its mask in face space, with where each goes in the frame."""

    frame_index: int
    track_id: int
    face: npt.NDArray[np.float32]  # (R, R, 3) BGR in [0, 1]
    mask: npt.NDArray[np.float32]  # (M, M) in [0, 1]
    face_to_frame: Affine  # face pixels -> frame pixels
    mask_to_frame: Affine
    landmarks_frame: npt.NDArray[np.float64]  # smoothed, (478, 3): where to look for the pasted face
    blend: str = "overlay"  # how it meets the frame (a BLENDS name)


@dataclass(frozen=True)
class DstFace:
    path: Path
    meta: FaceMeta


Pixels = npt.NDArray[np.float32]
# Statistics older than this many frames are not blended in: a cut, a long detector miss, or a
# merge-session range with another colour setting lay between.
STALE_FRAMES = 12


class ColorSmoother:
    """Per-track moving averages of the colour statistics, so the face does not flicker."""

    def __init__(self, mode: str, smoothing: float) -> None:
        self.plugin, self.keep = COLORS.get(mode), smoothing
        self.tracks: dict[int, tuple[Stats, Stats, int | None]] = {}

    def __call__(
        self, track: int, face: Pixels, dst: Pixels, mask: Pixels, frame: int | None = None
    ) -> Pixels:
        stats = self.plugin.stats
        if stats is None:
            return self.plugin.transfer(face, dst, mask, mask)
        now = (stats.measure(face, mask), stats.measure(dst, mask))
        before = self.tracks.get(track)
        fresh = before is not None and (
            frame is None or before[2] is None or 0 < frame - before[2] <= STALE_FRAMES
        )
        if before is not None and fresh and self.keep > 0:
            now = (before[0].blend(now[0], 1 - self.keep), before[1].blend(now[1], 1 - self.keep))
        self.tracks[track] = (*now, frame)
        return stats.apply(face, *now)


def sharpen_and_degrade(
    face: npt.NDArray[np.float32], cfg: MergeConfig, seed: int
) -> npt.NDArray[np.float32]:
    size = face.shape[0]
    if cfg.sharpen > 0:
        soft = cv2.GaussianBlur(face, (0, 0), sigmaX=max(0.8, size / 128))
        face = face + cfg.sharpen * (face - soft)
    if cfg.degrade_blur > 0:
        face = np.asarray(cv2.GaussianBlur(face, (0, 0), sigmaX=cfg.degrade_blur * size / 100), np.float32)
    if cfg.degrade_noise > 0:
        rng = np.random.default_rng(seed)
        face = face + rng.normal(0, cfg.degrade_noise / 255, face.shape).astype(np.float32)
    return np.clip(face, 0, 1).astype(np.float32)


def predict(model: FaceSwapModel, crops: list[npt.NDArray[np.uint8]], resolution: int,
            device: torch.device) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:  # fmt: skip
    """dst crops -> (faces (N, R, R, 3) BGR, masks (N, R, R)) through the dst->src path."""
    small = np.stack(
        [
            np.asarray(cv2.resize(c, (resolution, resolution), interpolation=cv2.INTER_AREA), np.uint8)
            for c in crops
        ]
    )
    with torch.inference_mode():
        rgb, mask = model.swap(to_tensor(small).to(device))
    faces = rgb.float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()[..., ::-1]
    return np.ascontiguousarray(faces, np.float32), mask.float().clamp(0, 1)[:, 0].cpu().numpy()


class Preparer:
    """Finishes predicted faces in frame order. Each face gets its own settings: `cfg`, with the
    merge `session`'s whole-video, track and frame-range settings on top. `memo`, when given, keeps
    every mask source's output and each colour transfer's result per face (the interactive merger
    redraws one frame many times; idt and sot cost a second on a 256 px face); `mask_sources`, the
    mask sources made so far, lets it keep them from one redraw to the next (the hand landmarker
    takes a few hundred ms to load)."""

    def __init__(self, model: FaceSwapModel, cfg: MergeConfig, device: torch.device,
                 session: MergeSession | None = None, memo: Memo | None = None,
                 mask_sources: dict[str, MaskSource] | None = None) -> None:  # fmt: skip
        self.model, self.device, self.session = model, device, session or MergeSession()
        self.cfg = self.session.base(cfg)
        self.resolution = model.config.resolution
        self.colors: dict[tuple[str, float], ColorSmoother] = {}
        self.steady = TemporalFilter(self.cfg.temporal)
        self.mask_sources: dict[str, MaskSource] = {} if mask_sources is None else mask_sources
        self.memo = memo

    def settings(self, meta: FaceMeta) -> MergeConfig:
        return self.session.settings(self.cfg, meta.frame_index, meta.track_id)

    def _mask(self, spec: str, inputs: MaskInputs) -> npt.NDArray[np.float32]:
        masks = []
        for name in spec.split("*"):
            key = (inputs.frame_index, inputs.track_id, name)
            if self.memo is not None and key in self.memo:
                masks.append(self.memo[key])
                continue
            if name not in self.mask_sources:
                self.mask_sources[name] = open_sources(name)[0]
            mask = np.asarray(self.mask_sources[name](inputs), np.float32)
            if self.memo is not None and name != "learned":  # learned changes with temporal
                self.memo[key] = mask
            masks.append(mask)
        return np.asarray(np.prod(masks, axis=0), np.float32)

    def batch(self, faces: list[DstFace]) -> list[PreparedFace]:
        if not faces:
            return []
        loaded = [read_aligned_face(face.path) for face in faces]
        predicted, learned = predict(self.model, [image for image, _ in loaded], self.resolution, self.device)
        return [
            self.one(face.meta, crop, swapped, mask, face.path)
            for face, (crop, _), swapped, mask in zip(faces, loaded, predicted, learned, strict=True)
        ]

    def one(self, meta: FaceMeta, crop: npt.NDArray[np.uint8], swapped: npt.NDArray[np.float32],
            learned: npt.NDArray[np.float32], path: Path | None = None) -> PreparedFace:  # fmt: skip
        cfg, r, s = self.settings(meta), self.resolution, meta.size_px
        m = min(s, max(MASK_SIZE_CAP, r))
        dst_small = np.asarray(cv2.resize(crop, (r, r), interpolation=cv2.INTER_AREA), np.float32) / 255
        swapped, learned = self.steady(meta.track_id, meta.frame_index, dst_small, swapped, learned,
                                       cfg.temporal)  # fmt: skip
        inputs = MaskInputs(
            resize_mask(learned, m), meta.landmarks_crop, m, s, crop, meta.track_id, meta.frame_index, path
        )
        mask = self._mask(cfg.mask, inputs)
        if cfg.keep_mouth:
            mouth = mouth_mask(meta.landmarks_crop, m, s)
            mask = mask * (1 - np.asarray(cv2.GaussianBlur(mouth, (0, 0), sigmaX=m / 128), np.float32))
        # Colour is compared on skin (eyes, brows and mouth differ between people, and a mouth
        # that opens in dst only would drag the average), solidly inside the mask.
        skin = skin_mask(meta.landmarks_crop, r, s) * (resize_mask(mask, r) > 0.5).astype(np.float32)
        key = (meta.frame_index, meta.track_id, "color", cfg.color, cfg.mask, cfg.keep_mouth)
        if self.memo is not None and key in self.memo:
            face = self.memo[key]
        else:
            colors = self.colors.setdefault((cfg.color, cfg.color_smoothing),
                                            ColorSmoother(cfg.color, cfg.color_smoothing))  # fmt: skip
            face = colors(meta.track_id, swapped, dst_small, skin, meta.frame_index)
            if self.memo is not None:
                self.memo[key] = face
        adjust = BLENDS.get(cfg.blend).adjust
        if adjust is not None:
            face = adjust(face, dst_small, skin)
        face = match_shading(face, dst_small, skin, cfg.shading)
        face = sharpen_and_degrade(face, cfg, meta.frame_index * 64 + meta.face_index)
        mask = refine(mask, cfg.erode, cfg.blur)
        placed = compose(meta.face_to_frame, scale_about_centre(s, 1 + cfg.face_scale / 100))
        return PreparedFace(
            meta.frame_index,
            meta.track_id,
            face,
            mask,
            compose(placed, resample_matrix(r, s)),
            compose(placed, resample_matrix(m, s)),
            meta.landmarks_frame,
            cfg.blend,
        )


def prepared_by_frame(preparer: Preparer, faces: Iterable[DstFace], batch_size: int
                      ) -> Iterator[tuple[int, list[PreparedFace]]]:  # fmt: skip
    """(frame index, its prepared faces) in frame order; `faces` must come in frame order."""
    pending: list[DstFace] = []
    current: list[PreparedFace] = []

    def flush() -> Iterator[tuple[int, list[PreparedFace]]]:
        nonlocal current
        for prepared in preparer.batch(pending):
            if current and current[0].frame_index != prepared.frame_index:
                yield current[0].frame_index, current
                current = []
            current.append(prepared)
        pending.clear()

    for face in faces:
        pending.append(face)
        if len(pending) >= batch_size:
            yield from flush()
    yield from flush()
    if current:
        yield current[0].frame_index, current

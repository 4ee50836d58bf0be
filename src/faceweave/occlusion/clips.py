"""Occluded pseudo-videos: an expressive face with an occluder moving across it, and the exact
mask of the occluder in every frame, for tests and `benchmarks/occlusion.py`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.media.encode import EncodeSettings, VideoWriter
from faceweave.media.synth import ClipSpec
from faceweave.occlusion.synth import KINDS, Occluder
from faceweave.pseudovideo import FacePuppet, TruthFrame, expressive_at, scene_frames


@dataclass(frozen=True)
class OccludedFrame:
    truth: TruthFrame
    occluder: npt.NDArray[np.float32]  # (H, W) alpha of the occluder in frame pixels


def _placed(occluder: Occluder, centre: tuple[float, float], side: int, width: int, height: int
            ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:  # fmt: skip
    """The occluder's layer and alpha warped to a `side` px square centred at `centre` in the frame."""
    size = occluder.alpha.shape[0]
    k = side / size
    matrix = np.array([[k, 0, centre[0] - side / 2], [0, k, centre[1] - side / 2]], np.float64)
    layer = cv2.warpAffine(occluder.layer, matrix, (width, height), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(occluder.alpha, matrix, (width, height), flags=cv2.INTER_LINEAR)
    return np.asarray(layer, np.float32), np.asarray(alpha, np.float32)


def occluded_frames(
    puppet: FacePuppet, spec: ClipSpec, kind: str = "hand", seed: int = 0
) -> list[tuple[npt.NDArray[np.uint8], OccludedFrame]]:
    """Frames of an expressive face with one occluder of `kind` sweeping slowly across it."""
    rng = np.random.default_rng(seed)
    occluder = KINDS[kind](rng, 256)
    out = []
    for frame, truths in scene_frames([puppet], spec, seed, expressive_at):
        truth = truths[0]
        t = truth.pts_s
        marks = truth.landmarks_xy
        centre_face = marks.mean(axis=0)
        span = float(np.ptp(marks[:, 0]))
        sweep = math.sin(2 * math.pi * t / 4.0)  # across and back every 4 s
        centre = (float(centre_face[0] + 0.35 * span * sweep), float(centre_face[1]))
        layer, alpha = _placed(occluder, centre, round(span * 1.1), spec.width, spec.height)
        a = alpha[..., None]
        mixed = frame.astype(np.float32) / 255 * (1 - a) + layer * a
        out.append((np.asarray(np.clip(mixed * 255 + 0.5, 0, 255), np.uint8), OccludedFrame(truth, alpha)))
    return out


def write_occluded_clip(path: Path, puppet: FacePuppet, spec: ClipSpec, kind: str = "hand", seed: int = 0
                        ) -> list[OccludedFrame]:  # fmt: skip
    frames = occluded_frames(puppet, spec, kind, seed)
    with VideoWriter(
        path, fps=Fraction(spec.fps), settings=EncodeSettings(crf=12, preset="veryfast")
    ) as writer:
        for image, frame in frames:
            writer.write(image, frame.truth.pts_s)
        writer.close()
    return [frame for _, frame in frames]

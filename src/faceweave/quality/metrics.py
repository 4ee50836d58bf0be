"""Quality measures over time: pure functions of per-frame series of the result and of dst.

A series is a float array over a track's frames with NaN where a face is missing; every function
uses only the frames where both sides have a value (and, for velocities, the frame before too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Series = npt.NDArray[np.float64]

# A dst signal that moves less than this (standard deviation, in its own units) has no
# performance to follow: its correlation is reported as not applicable.
MIN_MOTION = {
    "mouth_open": 0.01,
    "eye_open": 0.02,
    "smile": 0.005,
    "brow_raise": 0.005,
    "gaze_x": 0.01,
    "gaze_y": 0.01,
}
MIN_FRAMES = 5


def _both(a: Series, b: Series) -> npt.NDArray[np.bool_]:
    return np.asarray(np.isfinite(a) & np.isfinite(b), np.bool_)


def correlation(result: Series, dst: Series, min_motion: float = 0.0) -> float | None:
    """Pearson correlation over time of a result signal with dst's; None when fewer than
    MIN_FRAMES frames have both or dst does not move (std under `min_motion`). A result that does
    not move at all while dst does scores 0: it follows nothing."""
    both = _both(result, dst)
    if both.sum() < MIN_FRAMES:
        return None
    r, d = result[both], dst[both]
    if d.std() <= max(min_motion, 1e-12):
        return None
    if r.std() <= 1e-12:
        return 0.0
    return float(np.corrcoef(r, d)[0, 1])


def offset_removed(result: Series, dst: Series) -> Series:
    """result - dst per frame, less its median: what is left once a constant difference (a face
    shape, the identity's own resting expression) is taken out."""
    diff = result - dst
    finite = np.isfinite(diff)
    if not finite.any():
        return diff
    return np.asarray(diff - np.median(diff[finite]), np.float64)


def mean_abs(values: Series) -> float | None:
    finite = values[np.isfinite(values)]
    return float(np.mean(np.abs(finite))) if finite.size else None


def expression_error(result_pts: npt.NDArray[np.float64], dst_pts: npt.NDArray[np.float64]) -> Series:
    """Per frame, the mean distance between the result's and dst's expression points (face frame,
    inter-ocular units) after the mean difference over time is removed: a correct swap changes
    the face's shape (a constant) but moves it exactly as dst moves."""
    residual = result_pts - dst_pts  # (T, k, 2), NaN where a side is missing
    frames = np.isfinite(residual).all(axis=(1, 2))
    out = np.full(len(residual), np.nan)
    if frames.any():
        static = np.median(residual[frames], axis=0)  # a glitch of the mesh must not move it
        out[frames] = np.linalg.norm(residual[frames] - static, axis=2).mean(axis=1)
    return out


def pose_error(
    result_pose: npt.NDArray[np.float64], dst_pose: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """(T, 3) |yaw, pitch, roll| differences in degrees with each axis' median difference (the
    identity's constant offset, part face shape) removed."""
    return np.abs(np.stack([offset_removed(result_pose[:, k], dst_pose[:, k]) for k in range(3)], axis=1))


def jitter(result_pts: npt.NDArray[np.float64], dst_pts: npt.NDArray[np.float64], iod: Series) -> Series:
    """Per frame, the mean over stable points of |result velocity - dst velocity| in frame pixels,
    divided by dst's inter-ocular distance: motion the swap added (or lost). NaN on a track's first
    frame and where either side misses this or the previous frame."""
    velocity_r = np.diff(result_pts, axis=0)
    velocity_d = np.diff(dst_pts, axis=0)
    step = np.linalg.norm(velocity_r - velocity_d, axis=2).mean(axis=1) / iod[1:]
    return np.concatenate([[np.nan], step])


def flicker(result_light: npt.NDArray[np.float64], dst_light: npt.NDArray[np.float64]) -> Series:
    """Per frame, the mean over skin points of |change of the result's lightness - change of
    dst's| since the previous frame (L units, 0-100): brightness that pumps or texture that boils
    where dst's does not. Points move with dst's face, so motion is not counted."""
    change_r = np.diff(result_light, axis=0)
    change_d = np.diff(dst_light, axis=0)
    step = np.full(change_r.shape[0], np.nan)
    gap = np.abs(change_r - change_d)
    rows = np.isfinite(gap).any(axis=1) if gap.size else np.zeros(change_r.shape[0], np.bool_)
    step[rows] = np.nanmean(gap[rows], axis=1)
    return np.concatenate([[np.nan], step])


def delta_e(result_lab: npt.NDArray[np.float64], dst_lab: npt.NDArray[np.float64]) -> Series:
    """CIE76 colour difference (Euclidean in Lab) of mean skin colours, per frame."""
    return np.asarray(np.linalg.norm(result_lab - dst_lab, axis=-1), np.float64)


def ratio(result: Series, dst: Series) -> Series:
    """result / dst per frame, NaN where dst is 0 or missing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = result / dst
    return np.where(np.isfinite(out) & (dst > 0), out, np.nan)


def seam_ratio(result_rings: npt.NDArray[np.float64], dst_rings: npt.NDArray[np.float64]) -> Series:
    """Per frame, the largest ratio over rings along the outline of the result's gradient across
    it to dst's in the same ring: a seam is a step along one ring that dst does not have."""
    ratios = ratio(result_rings, dst_rings)
    finite = np.isfinite(ratios).any(axis=-1)
    out = np.full(ratios.shape[:-1], np.nan)
    out[finite] = np.nanmax(ratios[finite], axis=-1)
    return out


@dataclass(frozen=True)
class Retrieval:
    """Identity of sampled result faces: mean distances to src's and dst's centroids, the share
    closer to src than to dst, and src's own spread (mean distance of src faces to their centroid)."""

    to_src: float
    to_dst: float
    closer_to_src: float
    src_spread: float
    samples: int


def retrieval(
    result: npt.NDArray[np.float64], src: npt.NDArray[np.float64], dst: npt.NDArray[np.float64]
) -> Retrieval:
    """`result`, `src`, `dst`: (n, 128) dlib descriptors."""
    src_c, dst_c = src.mean(axis=0), dst.mean(axis=0)
    to_src = np.linalg.norm(result - src_c, axis=1)
    to_dst = np.linalg.norm(result - dst_c, axis=1)
    return Retrieval(
        to_src=float(to_src.mean()),
        to_dst=float(to_dst.mean()),
        closer_to_src=float(np.mean(to_src < to_dst)),
        src_spread=float(np.linalg.norm(src - src_c, axis=1).mean()),
        samples=len(result),
    )

"""Plane geometry shared by every stage: 2x3 affine matrices, and rectangles of a frame.

Pixel centres are kept exact: an R px image standing for an S px crop maps crop coordinate
x_c = (x_r + 0.5) * S / R - 0.5 (`resample_matrix`), so an unchanged face pasted back lands on the
very pixels it was cut from.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Affine = npt.NDArray[np.float64]  # (2, 3)
Points = npt.NDArray[np.float64]  # (n, 2)


def umeyama(src: Points, dst: Points) -> Affine:
    """Least-squares similarity (rotation, uniform scale, translation) taking src onto dst.

    Umeyama (1991): the SVD of the cross-covariance gives the rotation, with a reflection guard.
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_src, mu_dst = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - mu_src, dst - mu_dst
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rotation = u @ np.diag(d) @ vt
    scale = float((s * d).sum() / (src_c**2).sum() * len(src))
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mu_dst - scale * rotation @ mu_src
    return matrix


def invert(matrix: Affine) -> Affine:
    # Closed form, not np.linalg.inv: OpenBLAS's LAPACK wakes its thread pool even for a 3x3, and
    # the woken thread spins on a core for a while; called per face while merging, that took a
    # third of a core away from the merge workers.
    return np.asarray(cv2.invertAffineTransform(np.asarray(matrix, np.float64)), np.float64)


def apply(matrix: Affine, points: Points) -> Points:
    points = np.asarray(points, np.float64)
    return np.asarray(points[:, :2] @ matrix[:, :2].T + matrix[:, 2], np.float64)


def similarity(scale: float, angle_deg: float, tx: float, ty: float) -> Affine:
    a = np.deg2rad(angle_deg)
    c, s = scale * np.cos(a), scale * np.sin(a)
    return np.array([[c, -s, tx], [s, c, ty]])


def _full(matrix: Affine) -> npt.NDArray[np.float64]:
    return np.vstack([matrix, [0.0, 0.0, 1.0]])


def compose(outer: Affine, inner: Affine) -> Affine:
    """outer after inner."""
    return (_full(outer) @ _full(inner))[:2]


def resample_matrix(from_size: int, to_size: int) -> Affine:
    """Coordinates of a `from_size` px image in a `to_size` px image of the same square."""
    k = to_size / from_size
    return np.array([[k, 0, 0.5 * k - 0.5], [0, k, 0.5 * k - 0.5]], np.float64)


def scale_about_centre(size: int, factor: float) -> Affine:
    c = (size - 1) / 2
    return np.array([[factor, 0, c - factor * c], [0, factor, c - factor * c]], np.float64)


@dataclass(frozen=True)
class Region:
    """A rectangle of the frame: x0, y0 inclusive, x1, y1 exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def empty(self) -> bool:
        return self.x1 <= self.x0 or self.y1 <= self.y0


def region_of(to_frame: Affine, size: int, width: int, height: int, pad: int = 2) -> Region:
    """The frame box covering a `size` px square placed by `to_frame`, clipped to the frame."""
    corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [size - 0.5, size - 0.5], [-0.5, size - 0.5]])
    return region_around(corners @ to_frame[:, :2].T + to_frame[:, 2], width, height, pad)


def region_around(points: npt.NDArray[np.float64], width: int, height: int, pad: int = 2) -> Region:
    """The frame box covering `points` (N, 2) with `pad` px to spare, clipped to the frame."""
    x0, y0 = np.floor(points.min(axis=0)).astype(int) - pad
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + pad + 1
    return Region(max(0, x0), max(0, y0), min(width, x1), min(height, y1))

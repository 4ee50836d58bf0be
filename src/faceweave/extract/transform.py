"""Similarity transforms between frame and aligned crop: pure functions on 2x3 matrices."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.extract.template import ALIGN_POINTS, template_in_crop

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


def frame_to_face(landmarks_478: Points, face_type: str, size_px: int) -> Affine:
    """The matrix that maps frame pixels into the aligned crop of `face_type` and size."""
    return umeyama(np.asarray(landmarks_478)[list(ALIGN_POINTS), :2], template_in_crop(face_type, size_px))

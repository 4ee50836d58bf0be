"""Masks drawn from mesh landmarks: the face hull, and the eyes and mouth that weigh more."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.mesh import EYES, FACE_OVAL, MOUTH


def landmark_masks(
    landmarks_crop: npt.NDArray[np.float64], size: int, scale: float
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """(face hull mask, eyes-and-mouth mask) at `size` px from landmarks in crop pixels * scale."""
    points = np.round(landmarks_crop[:, :2] * scale).astype(np.int32)
    hull = np.zeros((size, size), np.float32)
    cv2.fillConvexPoly(hull, cv2.convexHull(points[list(FACE_OVAL)]), (1.0,))
    features = np.zeros((size, size), np.float32)
    for ring in (*EYES, MOUTH):
        cv2.fillPoly(features, [points[list(ring)]], (1.0,))
    grow = max(3, size // 32) | 1
    grown = np.asarray(cv2.dilate(features, np.ones((grow, grow), np.uint8)), np.float32)
    return hull, grown

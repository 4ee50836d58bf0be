"""Hands in front of a face, from mediapipe's hand landmarker (its models ship in the wheel).

The landmarker gives 21 points per hand; the mask is the palm's hull and each finger as a
capsule as wide as a finger is (a fifth of the palm), feathered by a pixel or two.
"""

from __future__ import annotations

import itertools
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.extract.detect import native_stderr_silenced
from faceweave.records import ImageBGR

PALM = (0, 1, 5, 9, 13, 17)
FINGERS = ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20))
Points = npt.NDArray[np.float64]


def hand_mask(hands: list[Points], size: int) -> npt.NDArray[np.float32]:
    """(size, size) mask of hands given as (21, 2) points in the mask's own pixels."""
    mask = np.zeros((size, size), np.float32)
    for points in hands:
        palm = points[list(PALM)]
        width = max(2.0, 0.22 * float(np.linalg.norm(points[5] - points[17])) * 1.6)
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(palm * 16).astype(np.int32)), (1.0,), cv2.LINE_AA, 4)
        for finger in FINGERS:
            chain = np.round(points[list(finger)] * 16).astype(np.int32)
            for a, b in itertools.pairwise(chain):
                cv2.line(mask, tuple(int(v) for v in a), tuple(int(v) for v in b), (1.0,), round(width),
                         cv2.LINE_AA, shift=4)  # fmt: skip
    return np.asarray(cv2.GaussianBlur(mask, (0, 0), max(0.6, size / 256)), np.float32)


class HandFinder:
    """mediapipe Hands on an image (an aligned face crop, say): each hand's points in its pixels."""

    def __init__(self, min_score: float = 0.5) -> None:
        import mediapipe as mp

        solutions: Any = mp.solutions
        with native_stderr_silenced():
            self._hands = solutions.hands.Hands(
                static_image_mode=True,
                max_num_hands=2,
                model_complexity=0,
                min_detection_confidence=min_score,
            )

    def find(self, image: ImageBGR) -> list[Points]:
        h, w = image.shape[:2]
        with native_stderr_silenced():
            result = self._hands.process(np.ascontiguousarray(image[..., ::-1]))
        hands = []
        for found in result.multi_hand_landmarks or []:
            hands.append(np.array([[p.x * w, p.y * h] for p in found.landmark], np.float64))
        return hands

    def close(self) -> None:
        self._hands.close()

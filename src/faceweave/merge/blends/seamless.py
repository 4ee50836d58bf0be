"""Poisson blending (OpenCV's seamlessClone), DeepFaceLab's seamless."""

from __future__ import annotations

import cv2
import numpy as np

from faceweave.merge.blends import BlendMode, Pixels, overlay
from faceweave.merge.paste import to_u8
from faceweave.registries import BLENDS


def seamless(background: Pixels, face: Pixels,
             mask: Pixels) -> Pixels:  # fmt: skip
    """Poisson blending (OpenCV seamlessClone) inside the solid part of the mask, then the soft
    mask on top so the feathered edge stays soft."""
    solid = (mask > 0.5).astype(np.uint8) * 255
    # seamlessClone needs the mask clear of the image border.
    solid[:2], solid[-2:], solid[:, :2], solid[:, -2:] = 0, 0, 0, 0
    if cv2.countNonZero(solid) < 16:
        return overlay(background, face, mask)
    x, y, w, h = cv2.boundingRect(solid)
    centre = (x + w // 2, y + h // 2)
    cloned = cv2.seamlessClone(to_u8(face), to_u8(background), solid, centre, cv2.NORMAL_CLONE)
    return overlay(background, cloned.astype(np.float32) / 255, mask)


BLENDS.add(
    "seamless",
    "Poisson blending (OpenCV seamlessClone) inside the solid mask",
    BlendMode(seamless),
    __name__,
    rank=1,
)

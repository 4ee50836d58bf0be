"""Paste a face-space image back into the frame: exact warps into a small region, then blending.

Pixel centres are kept exact: an R px image standing for an S px crop maps crop coordinate
x_c = (x_r + 0.5) * S / R - 0.5, and that map is composed with the extraction's face_to_frame,
so an unchanged face lands on the very pixels it was cut from. Warps only cover the face's
bounding box in the frame (a 720p frame is 40 times a face's area), and a face smaller in the
frame than in the model is first shrunk with area averaging, so it is anti-aliased.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.geometry import Affine, Region, compose, resample_matrix
from faceweave.records import ImageBGR


def warp_into(
    image: npt.NDArray[np.float32], to_frame: Affine, region: Region, border: int
) -> npt.NDArray[np.float32]:
    """`image` (square, float32) warped by `to_frame` into `region` of the frame."""
    size = image.shape[0]
    frame_px_per_px = float(np.sqrt(abs(np.linalg.det(to_frame[:, :2]))))
    if frame_px_per_px < 0.9:
        # Shrinking in the warp would alias: average down first, to about the frame's scale.
        smaller = max(2, round(size * frame_px_per_px))
        image = np.asarray(cv2.resize(image, (smaller, smaller), interpolation=cv2.INTER_AREA), np.float32)
        to_frame = compose(to_frame, resample_matrix(smaller, size))
        interpolation = cv2.INTER_LINEAR
    else:
        interpolation = cv2.INTER_CUBIC
    shifted = to_frame.copy()
    shifted[:, 2] -= (region.x0, region.y0)
    return np.asarray(
        cv2.warpAffine(
            image,
            shifted,
            (region.x1 - region.x0, region.y1 - region.y0),
            flags=interpolation,
            borderMode=border,
        ),
        np.float32,
    )


def to_u8(image: npt.NDArray[np.float32]) -> ImageBGR:
    return np.asarray(np.clip(image * 255 + 0.5, 0, 255), np.uint8)

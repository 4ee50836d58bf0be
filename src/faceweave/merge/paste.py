"""Paste a face-space image back into the frame: exact warps into a small region, then blending.

Pixel centres are kept exact: an R px image standing for an S px crop maps crop coordinate
x_c = (x_r + 0.5) * S / R - 0.5, and that map is composed with the extraction's face_to_frame,
so an unchanged face lands on the very pixels it was cut from. Warps only cover the face's
bounding box in the frame (a 720p frame is 40 times a face's area). The warp is cubic; a face
under half its model size in the frame is first shrunk with area averaging, so it is anti-aliased.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.geometry import Affine, Region, compose, resample_matrix
from faceweave.records import ImageBGR

# Below this many frame pixels per face pixel the warp is preceded by area averaging.
MIN_CUBIC_SCALE = 0.5


def warp_into(
    image: npt.NDArray[np.float32], to_frame: Affine, region: Region, border: int
) -> npt.NDArray[np.float32]:
    """`image` (square, float32) warped by `to_frame` into `region` of the frame."""
    size = image.shape[0]
    frame_px_per_px = float(np.sqrt(abs(np.linalg.det(to_frame[:, :2]))))
    if frame_px_per_px < MIN_CUBIC_SCALE:
        # A cubic warp this small would alias: average down first, but only to where cubic can
        # take over. Averaging all the way to the frame's scale and warping bilinearly kept half
        # the detail of an unchanged face (variance of the Laplacian, 256 px into 207 px).
        smaller = max(2, round(size * frame_px_per_px / MIN_CUBIC_SCALE))
        image = np.asarray(cv2.resize(image, (smaller, smaller), interpolation=cv2.INTER_AREA), np.float32)
        to_frame = compose(to_frame, resample_matrix(smaller, size))
    shifted = to_frame.copy()
    shifted[:, 2] -= (region.x0, region.y0)
    return np.asarray(
        cv2.warpAffine(
            image,
            shifted,
            (region.x1 - region.x0, region.y1 - region.y0),
            flags=cv2.INTER_CUBIC,
            borderMode=border,
        ),
        np.float32,
    )


def to_u8(image: npt.NDArray[np.float32]) -> ImageBGR:
    return np.asarray(np.clip(image * 255 + 0.5, 0, 255), np.uint8)

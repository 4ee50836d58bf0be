"""Paste a face-space image back into the frame: exact warps into a small region, then blending.

Pixel centres are kept exact: an R px image standing for an S px crop maps crop coordinate
x_c = (x_r + 0.5) * S / R - 0.5, and that map is composed with the extraction's face_to_frame,
so an unchanged face lands on the very pixels it was cut from. Warps only cover the face's
bounding box in the frame (a 720p frame is 40 times a face's area), and a face smaller in the
frame than in the model is first shrunk with area averaging, so it is anti-aliased.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.records import ImageBGR

Affine = npt.NDArray[np.float64]
BLEND_MODES = ("overlay", "seamless", "hist-match")


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


def overlay(background: npt.NDArray[np.float32], face: npt.NDArray[np.float32],
            mask: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:  # fmt: skip
    alpha = mask[..., None]
    return np.asarray(background * (1 - alpha) + face * alpha, np.float32)


def seamless(background: npt.NDArray[np.float32], face: npt.NDArray[np.float32],
             mask: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:  # fmt: skip
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


def to_u8(image: npt.NDArray[np.float32]) -> ImageBGR:
    return np.asarray(np.clip(image * 255 + 0.5, 0, 255), np.uint8)

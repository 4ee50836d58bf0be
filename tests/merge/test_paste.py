"""The warp back into the frame: an unchanged face keeps its detail; a much smaller one does not alias."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from faceweave.assets import load_sample_face
from faceweave.geometry import Affine, region_of
from faceweave.merge.paste import warp_into


def placed(scale: float, angle: float, at: tuple[float, float]) -> Affine:
    """Face pixels -> frame pixels: rotate and scale about the origin, then move to `at`."""
    c, s = scale * np.cos(np.radians(angle)), scale * np.sin(np.radians(angle))
    return np.array([[c, -s, at[0]], [s, c, at[1]]], np.float64)


def detail(image: npt.NDArray[np.float32]) -> float:
    """Variance of the Laplacian of the grey image: what a blur takes away first."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


@pytest.mark.parametrize("scale", [0.81, 0.62])
def test_a_face_cut_from_the_frame_goes_back_with_its_detail(scale: float) -> None:
    """Cut as extraction cuts (cubic, into a larger crop), pasted back as merge pastes: the face
    keeps its pixels and its fine detail. Averaging down and warping bilinearly kept half of it."""
    frame = np.asarray(load_sample_face(0), np.float32) / 255
    size = 256
    to_frame = placed(scale, 7.0, (60.0, 50.0))
    to_face = cv2.invertAffineTransform(to_frame)
    crop = np.asarray(cv2.warpAffine(frame, to_face, (size, size), flags=cv2.INTER_CUBIC,
                                     borderMode=cv2.BORDER_REPLICATE), np.float32)  # fmt: skip
    height, width = frame.shape[:2]
    region = region_of(to_frame, size, width, height)
    back = warp_into(crop, to_frame, region, cv2.BORDER_REPLICATE)
    # The middle of the face, clear of the crop's edges.
    h, w = back.shape[:2]
    inner = (slice(h // 4, 3 * h // 4), slice(w // 4, 3 * w // 4))
    original = frame[region.y0 : region.y1, region.x0 : region.x1][inner]
    returned = back[inner]
    assert detail(returned) >= 0.85 * detail(original)
    assert float(np.abs(returned - original).mean()) < 0.01


def test_a_face_far_smaller_in_the_frame_is_averaged_not_aliased() -> None:
    """One-pixel stripes shrunk to a quarter must come out as their mean grey, not as moire."""
    size = 256
    stripes = np.zeros((size, size, 3), np.float32)
    stripes[:, ::2] = 1.0
    to_frame = placed(0.25, 0.0, (20.0, 20.0))
    region = region_of(to_frame, size, 200, 200)
    small = warp_into(stripes, to_frame, region, cv2.BORDER_REPLICATE)
    inner = small[8:-8, 8:-8]
    assert abs(float(inner.mean()) - 0.5) < 0.03
    assert float(inner.std()) < 0.05

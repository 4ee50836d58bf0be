"""Face-space masks: which pixels of the aligned crop the swapped face replaces.

Everything here works in the aligned crop at `size` px, so sizes given in % of the face are the
same for every face whatever its size in the frame; the mask is warped into the frame afterwards.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.facemasks import landmark_masks
from faceweave.mesh import BROWS, FACE_OVAL, MOUTH_INNER

Mask = npt.NDArray[np.float32]


def _polygon(points: npt.NDArray[np.float64], ring: tuple[int, ...], size: int, hull: bool) -> Mask:
    mask = np.zeros((size, size), np.float32)
    # Sub-pixel polygon edges (4 fractional bits), so a mask does not jitter by whole pixels.
    scaled = np.round(points[list(ring)] * 16).astype(np.int32)
    if hull:
        cv2.fillConvexPoly(mask, cv2.convexHull(scaled), (1.0,), cv2.LINE_AA, 4)
    else:
        cv2.fillPoly(mask, [scaled], (1.0,), cv2.LINE_AA, shift=4)
    return mask


def hull_mask(landmarks_crop: npt.NDArray[np.float64], size: int, crop_size: int) -> Mask:
    """The face-oval hull at `size` px from landmarks given in a `crop_size` px crop."""
    return _polygon(_scaled(landmarks_crop, size, crop_size), FACE_OVAL, size, hull=True)


def mouth_mask(landmarks_crop: npt.NDArray[np.float64], size: int, crop_size: int) -> Mask:
    return _polygon(_scaled(landmarks_crop, size, crop_size), MOUTH_INNER, size, hull=False)


def _scaled(landmarks_crop: npt.NDArray[np.float64], size: int, crop_size: int) -> npt.NDArray[np.float64]:
    # Pixel centres: crop pixel i covers [i - 0.5, i + 0.5], so scale about -0.5.
    factor = size / crop_size
    return (landmarks_crop[:, :2] + 0.5) * factor - 0.5


def resize_mask(mask: Mask, size: int) -> Mask:
    if mask.shape[0] == size:
        return mask
    interpolation = cv2.INTER_AREA if mask.shape[0] > size else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(mask, (size, size), interpolation=interpolation), np.float32)


def refine(mask: Mask, erode_pct: float, blur_pct: float) -> Mask:
    """Erode (+) or dilate (-), then feather; sizes in % of the crop side.

    The feather fades out inside the mask (it is eroded by half the feather, then blurred by a
    quarter-feather sigma), so it never bleeds into dst's background, and it also fades out
    before the crop's border, where a hull cut off by the crop would otherwise end in a hard edge.
    """
    size = mask.shape[0]
    out = mask.copy()
    out[0], out[-1], out[:, 0], out[:, -1] = 0, 0, 0, 0  # erosion then works inward from the border
    radius = round(abs(erode_pct) * size / 100)
    if radius:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        op = cv2.erode if erode_pct > 0 else cv2.dilate
        out = np.asarray(op(out, kernel), np.float32)
    feather = blur_pct * size / 100
    if feather > 0:
        half = max(1, round(feather / 2))
        out = np.asarray(cv2.erode(out, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * half + 1,) * 2)))
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), sigmaX=feather / 4), np.float32)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def skin_mask(landmarks_crop: npt.NDArray[np.float64], size: int, crop_size: int) -> Mask:
    """The face's skin at `size` px: the hull without eyes, mouth and brows (grown a little),
    where two people's faces can be compared for colour."""
    hull, features = landmark_masks(landmarks_crop, size, size / crop_size)
    points = np.round(landmarks_crop[:, :2] * size / crop_size).astype(np.int32)
    thickness = max(2, size // 16)
    for brow in BROWS:
        cv2.polylines(features, [points[list(brow)]], False, (1.0,), thickness)
    return np.asarray(hull * (1 - features), np.float32)

"""The alignment transform: frame pixels into the aligned crop of a face type and size."""

from __future__ import annotations

import numpy as np

from faceweave.extract.template import ALIGN_POINTS, template_in_crop
from faceweave.geometry import Affine, Points, umeyama


def frame_to_face(landmarks_478: Points, face_type: str, size_px: int) -> Affine:
    """The matrix that maps frame pixels into the aligned crop of `face_type` and size."""
    return umeyama(np.asarray(landmarks_478)[list(ALIGN_POINTS), :2], template_in_crop(face_type, size_px))

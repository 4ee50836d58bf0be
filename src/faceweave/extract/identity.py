"""Who a face is: dlib's 128-d face descriptor (ResNet from face-recognition-models, CC0).

The descriptor network wants dlib's own 5-point chip alignment; rather than run dlib's detector
and its landmark predictor we feed it the same five points taken from the mediapipe mesh.
Two descriptors of one person lie closer than about 0.6 (dlib's published threshold).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from faceweave.errors import UserError
from faceweave.records import ImageBGR

# dlib's 5-point order: left eye (image right) outer, inner; right eye outer, inner; under the nose.
DLIB5_FROM_MESH = (263, 362, 33, 133, 2)
DEFAULT_THRESHOLD = 0.6


def _model_path() -> Path:
    # Located without importing the package: its __init__ needs pkg_resources, gone from setuptools.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("identity filtering needs the face-recognition-models package; run `make setup`")
    return (
        Path(next(iter(spec.submodule_search_locations)))
        / "models"
        / "dlib_face_recognition_resnet_model_v1.dat"
    )


class FaceDescriber:
    """Computes descriptors; one instance per process."""

    def __init__(self) -> None:
        import dlib

        self._dlib: Any = dlib
        self._net = dlib.face_recognition_model_v1(str(_model_path()))

    def describe(self, image: ImageBGR, landmarks_478: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        dlib = self._dlib
        points = np.asarray(landmarks_478)[list(DLIB5_FROM_MESH), :2]
        x0, y0 = np.asarray(landmarks_478)[:, :2].min(axis=0)
        x1, y1 = np.asarray(landmarks_478)[:, :2].max(axis=0)
        rect = dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
        shape = dlib.full_object_detection(rect, [dlib.point(round(x), round(y)) for x, y in points])
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        return np.asarray(self._net.compute_face_descriptor(rgb, shape), np.float64)


def nearest_distance(descriptor: npt.NDArray[np.float64], references: npt.NDArray[np.float64]) -> float:
    """Euclidean distance to the closest reference descriptor."""
    return float(np.min(np.linalg.norm(references - descriptor, axis=1)))

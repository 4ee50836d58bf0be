"""mediapipe's full-range face detector, then its 478-point mesh on a square crop of each face."""

from __future__ import annotations

from faceweave.extract.detect import MediapipeFaceFinder
from faceweave.registries import DETECTORS

DETECTORS.add(
    "mediapipe",
    "mediapipe's full-range detector, then its 478-point mesh with irises (both models in the wheel)",
    MediapipeFaceFinder,
    __name__,
    rank=0,
)

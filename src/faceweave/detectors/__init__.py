"""Face detectors: a frame in, faces with the 478 mediapipe mesh landmarks out.

A detector is a plugin in `DETECTORS` (faceweave.registries): a factory taking the detector
confidence a face needs and the most faces to keep per frame. Every stage that finds faces
(extraction, `--reference`, `verify`, `eval`, pseudo-videos) opens one through `open_detector`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from faceweave.extract.detect import RawFace
from faceweave.records import ImageBGR
from faceweave.registries import DETECTORS

DEFAULT_DETECTOR = "mediapipe"
ROTATIONS = (90, 270, 180)


class FaceDetector(Protocol):
    def find(self, image: ImageBGR, rotation_deg: int = 0) -> list[RawFace]:
        """Faces in `image`, searched in a copy turned counter-clockwise by `rotation_deg`, with
        their landmarks (478, 3) and boxes in `image`'s own pixels."""
        ...

    def close(self) -> None: ...


DetectorFactory = Callable[[float, int], FaceDetector]  # (min_score, max_faces) -> detector


def open_detector(name: str = DEFAULT_DETECTOR, min_score: float = 0.5, max_faces: int = 4) -> FaceDetector:
    return DETECTORS.get(name)(min_score, max_faces)


def find_any_rotation(detector: FaceDetector, image: ImageBGR, try_rotations: bool) -> list[RawFace]:
    """Faces upright first; when none and asked, in copies turned 90, 270 and 180 degrees."""
    faces = detector.find(image)
    if faces or not try_rotations:
        return faces
    for rotation in ROTATIONS:
        faces = detector.find(image, rotation)
        if faces:
            return faces
    return []

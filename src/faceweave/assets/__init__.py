"""Files that ship inside the package: sample faces of people who do not exist, presets."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import cv2

from faceweave.errors import MediaError
from faceweave.records import ImageBGR, as_image

SAMPLE_FACES = (
    "SFHQ_pt1_00000058.jpg",
    "SFHQ_pt1_00000131.jpg",
    "SFHQ_pt1_00000404.jpg",
    "SFHQ_pt2_00000258.jpg",
)


def load_sample_face(index: int) -> ImageBGR:
    """Bundled synthetic portrait `index` as a BGR image."""
    path = sample_face_path(index)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise MediaError(f"bundled face {path} is missing or unreadable; reinstall faceweave")
    return as_image(image)


def sample_face_path(index: int) -> Path:
    """Path of bundled synthetic portrait `index` (0-3)."""
    return Path(str(resources.files("faceweave.assets").joinpath("faces", SAMPLE_FACES[index])))

"""Files that ship inside the package: sample faces of people who do not exist, presets."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE_FACES = (
    "SFHQ_pt1_00000058.jpg",
    "SFHQ_pt1_00000131.jpg",
    "SFHQ_pt1_00000404.jpg",
    "SFHQ_pt2_00000258.jpg",
)


def sample_face_path(index: int) -> Path:
    """Path of bundled synthetic portrait `index` (0-3)."""
    return Path(str(resources.files("faceweave.assets").joinpath("faces", SAMPLE_FACES[index])))

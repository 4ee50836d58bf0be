"""The canonical face: where chosen mesh points sit in a face-normalised square, per face type.

Normalised space: x from the face's right cheek contour to its left, y from the top of the mesh's
face oval (upper forehead) at 0 to the chin at 1. The points were measured on the four bundled
frontal faces (mediapipe mesh, Procrustes mean), then mirrored about x = 0.5 so the template is
symmetric. Only points that expressions barely move (eye corners, nose, forehead, the contour at
eye height) anchor the alignment, so an opening mouth or a blink does not shift the crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# mediapipe face-mesh index -> (x, y) in normalised face space
ALIGN_TEMPLATE: dict[int, tuple[float, float]] = {
    33: (0.2308, 0.3191),   # right eye, outer corner
    133: (0.3930, 0.3322),  # right eye, inner corner
    362: (0.6070, 0.3322),  # left eye, inner corner
    263: (0.7692, 0.3191),  # left eye, outer corner
    127: (0.0855, 0.3374),  # contour at right eye height
    356: (0.9145, 0.3374),  # contour at left eye height
    98: (0.3985, 0.5939),   # right nose wing
    327: (0.6015, 0.5939),  # left nose wing
    151: (0.5, 0.0969),     # forehead
    9: (0.5, 0.2000),       # between the brows
    168: (0.5, 0.2973),     # nose bridge
    6: (0.5, 0.3456),
    197: (0.5, 0.3903),
    195: (0.5, 0.4326),
    5: (0.5, 0.4781),
    4: (0.5, 0.5319),
    1: (0.5, 0.5719),       # nose tip
}  # fmt: skip
ALIGN_POINTS = tuple(ALIGN_TEMPLATE)


@dataclass(frozen=True)
class FaceType:
    """A square crop of normalised face space: its side and the y of its centre (x is 0.5)."""

    name: str
    side: float
    centre_y: float


# How much of the head each DeepFaceLab face type keeps, from tight to the whole head.
FACE_TYPES: dict[str, FaceType] = {
    "half": FaceType("half", 0.65, 0.52),   # eyes to mouth
    "mid": FaceType("mid", 0.82, 0.54),     # brows to below the mouth
    "full": FaceType("full", 1.0, 0.55),    # brows to chin, cheek to cheek
    "whole": FaceType("whole", 1.35, 0.50), # forehead and ears too
    "head": FaceType("head", 1.8, 0.42),    # the whole head with hair
}  # fmt: skip


def template_in_crop(face_type: str, size_px: int) -> npt.NDArray[np.float64]:
    """(len(ALIGN_POINTS), 2) template positions in pixels of a `size_px` crop of `face_type`."""
    ft = FACE_TYPES[face_type]
    origin = np.array([0.5 - ft.side / 2, ft.centre_y - ft.side / 2])
    points = np.array([ALIGN_TEMPLATE[i] for i in ALIGN_POINTS], np.float64)
    return np.asarray((points - origin) / ft.side * size_px, np.float64)

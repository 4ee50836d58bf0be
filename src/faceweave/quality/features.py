"""What a face does in one frame, read off its 478-point mesh: mouth and eye opening, smile, brow
raise, gaze and head pose, each in units that do not depend on the face's size or place.

Points are first moved into the face's own frame (origin between the eyes, axes from
`extract.pose.face_axes` with a "down" from forehead to nose that the jaw does not tilt, unit =
inter-ocular distance), so a head that turns or comes closer does not read as an expression, and
an opening mouth does not read as a nod. Every function here is pure: landmarks in, numbers out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from faceweave.extract.pose import RIGID_DOWN, face_axes, head_pose
from faceweave.mesh import MOUTH_CORNERS

Points = npt.NDArray[np.float64]

RIGHT_EYE_CORNERS, LEFT_EYE_CORNERS = (33, 133), (362, 263)  # outer/inner, inner/outer
# Upper/lower lid pairs across each eye, and the inner-lip pairs across the mouth.
RIGHT_LIDS = ((160, 144), (159, 145), (158, 153))
LEFT_LIDS = ((385, 380), (386, 374), (387, 373))
INNER_LIPS = ((82, 87), (13, 14), (312, 317))
BROWS = (70, 63, 105, 66, 107, 336, 296, 334, 293, 300)
RIGHT_IRIS, LEFT_IRIS = 468, 473
# Points whose motion says where the head is, not what the face does (the alignment's points).
STABLE_POINTS = (33, 133, 362, 263, 127, 356, 98, 327, 151, 9, 168, 6, 197, 195, 5, 4, 1)
# Points that move with expressions: lips, lids, brows, the jaw line below the mouth.
EXPRESSION_POINTS = (
    *(p for pair in INNER_LIPS for p in pair),
    *MOUTH_CORNERS,
    0,
    17,
    78,
    308,
    *(p for pair in RIGHT_LIDS + LEFT_LIDS for p in pair),
    *BROWS,
    152,
    148,
    377,
)


def inter_ocular(landmarks_478: Points) -> float:
    """Distance between the eye centres (mean of each eye's corners), in the landmarks' units."""
    p = np.asarray(landmarks_478, np.float64)
    right = p[list(RIGHT_EYE_CORNERS)].mean(axis=0)
    left = p[list(LEFT_EYE_CORNERS)].mean(axis=0)
    return float(np.linalg.norm(left - right))


def to_face_frame(landmarks_478: Points) -> Points:
    """(478, 3) points in the face's frame: origin between the eyes, x toward the face's left eye,
    y down, z into the screen; one unit is the inter-ocular distance."""
    p = np.asarray(landmarks_478, np.float64)
    if p.shape[1] == 2:
        p = np.hstack([p, np.zeros((len(p), 1))])
    origin = (p[list(RIGHT_EYE_CORNERS)].mean(axis=0) + p[list(LEFT_EYE_CORNERS)].mean(axis=0)) / 2
    scale = max(inter_ocular(p), 1e-9)
    return np.asarray(((p - origin) @ face_axes(p, RIGID_DOWN)) / scale, np.float64)


@dataclass(frozen=True)
class Features:
    """One face's expression and pose. Openings and lifts in inter-ocular units (eye opening in
    eye widths), gaze in eye widths from the eye's centre, angles in degrees."""

    mouth_open: float
    eye_open: float
    smile: float
    brow_raise: float
    gaze_x: float
    gaze_y: float
    yaw: float
    pitch: float
    roll: float

    NAMES: ClassVar[tuple[str, ...]] = (
        "mouth_open",
        "eye_open",
        "smile",
        "brow_raise",
        "gaze_x",
        "gaze_y",
        "yaw",
        "pitch",
        "roll",
    )

    def as_array(self) -> npt.NDArray[np.float64]:
        return np.array([getattr(self, name) for name in self.NAMES], np.float64)


def _gap(f: Points, pairs: tuple[tuple[int, int], ...]) -> float:
    return float(np.mean([np.linalg.norm(f[a, :2] - f[b, :2]) for a, b in pairs]))


def _eye(
    f: Points, corners: tuple[int, int], lids: tuple[tuple[int, int], ...], iris: int
) -> tuple[float, float, float]:
    """(opening in eye widths, gaze x, gaze y) of one eye."""
    a, b = f[corners[0], :2], f[corners[1], :2]
    width = max(float(np.linalg.norm(b - a)), 1e-9)
    centre = (a + b) / 2
    # Sign from the face frame, not from which corner comes first, so both eyes agree on "left".
    offset = (f[iris, :2] - centre) / width
    return _gap(f, lids) / width, float(offset[0]), float(offset[1])


def features(landmarks_478: Points) -> Features:
    """The expression and pose of one face from its (478, 3) mesh in frame pixels."""
    f = to_face_frame(landmarks_478)
    r_open, r_gx, r_gy = _eye(f, RIGHT_EYE_CORNERS, RIGHT_LIDS, RIGHT_IRIS)
    l_open, l_gx, l_gy = _eye(f, LEFT_EYE_CORNERS, LEFT_LIDS, LEFT_IRIS)
    corners_y = float(f[list(MOUTH_CORNERS), 1].mean())
    eye_line_y = float(f[list(RIGHT_EYE_CORNERS + LEFT_EYE_CORNERS), 1].mean())
    pose = head_pose(np.asarray(landmarks_478, np.float64), RIGID_DOWN)
    return Features(
        mouth_open=_gap(f, INNER_LIPS),
        eye_open=(r_open + l_open) / 2,
        # A smile pulls the corners out and up (y grows downward): mouth width plus the corners'
        # height relative to the eye line.
        smile=float(np.linalg.norm(f[MOUTH_CORNERS[0], :2] - f[MOUTH_CORNERS[1], :2]))
        + eye_line_y
        - corners_y,
        brow_raise=eye_line_y - float(f[list(BROWS), 1].mean()),
        gaze_x=(r_gx + l_gx) / 2,
        gaze_y=(r_gy + l_gy) / 2,
        yaw=pose.yaw,
        pitch=pose.pitch,
        roll=pose.roll,
    )


def expression_points(landmarks_478: Points) -> Points:
    """(k, 2) expression points in the face frame (x, y), for the expression landmark error."""
    return to_face_frame(landmarks_478)[list(EXPRESSION_POINTS), :2]

"""Head pose (yaw, pitch, roll) from the 3-D face mesh, with no camera model needed.

The face's own axes come from the mesh: x from the right eye's outer corner to the left eye's,
"down" from the forehead to the chin; z completes a right-handed frame (into the screen, as
mediapipe's depth). Angles read off that rotation matrix.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from faceweave.formats.aligned import Pose

RIGHT_EYE_OUTER, LEFT_EYE_OUTER, FOREHEAD, CHIN = 33, 263, 10, 152
# Forehead centre to under the nose: a "down" that an opening jaw does not tilt (the chin does).
RIGID_DOWN = (151, 2)


def _unit(v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else v


def face_axes(
    landmarks_478: npt.NDArray[np.float64], down: tuple[int, int] = (FOREHEAD, CHIN)
) -> npt.NDArray[np.float64]:
    """3x3 rotation whose columns are the face's x (to its left eye), down and depth axes."""
    p = np.asarray(landmarks_478, np.float64)
    x = _unit(p[LEFT_EYE_OUTER] - p[RIGHT_EYE_OUTER])
    z = _unit(np.cross(x, p[down[1]] - p[down[0]]))
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def head_pose(landmarks_478: npt.NDArray[np.float64], down: tuple[int, int] = (FOREHEAD, CHIN)) -> Pose:
    """Yaw + when the face turns toward the image's right, pitch + when it looks down, roll +
    when it tilts clockwise in the image; degrees."""
    r = face_axes(landmarks_478, down)
    x, y = r[:, 0], r[:, 1]
    yaw = math.degrees(math.atan2(-x[2], math.hypot(x[0], x[1])))
    pitch = math.degrees(math.atan2(y[2], math.hypot(y[0], y[1])))
    roll = math.degrees(math.atan2(x[1], x[0]))
    return Pose(round(yaw, 2), round(pitch, 2), round(roll, 2))

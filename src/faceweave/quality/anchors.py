"""Calibration for `faceweave eval`: videos whose verdict is known before scoring, and what
identity distances mean on our faces.

"src's first face pasted still on every dst frame" carries src's identity perfectly and none of
dst's performance; dst itself (passed through) is the opposite. A sound eval must put them on
opposite sides of the identity and performance thresholds.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.detectors import open_detector
from faceweave.errors import UserError
from faceweave.extract.detect import RawFace
from faceweave.extract.identity import FaceDescriber
from faceweave.media.decode import open_frames
from faceweave.media.encode import EncodeSettings, VideoWriter
from faceweave.media.probe import probe_video
from faceweave.mesh import FACE_OVAL
from faceweave.pseudovideo import Expression, FacePuppet
from faceweave.quality.features import STABLE_POINTS, inter_ocular
from faceweave.records import ImageBGR

Points = npt.NDArray[np.float64]


def first_face(video: Path) -> tuple[ImageBGR, Points]:
    """The first frame of `video` with a face, and that face's mesh."""
    finder = open_detector()
    try:
        for frame in open_frames(video):
            faces = finder.find(frame.image_bgr_u8)
            if faces:
                return frame.image_bgr_u8, faces[0].landmarks_478
    finally:
        finder.close()
    raise UserError(f"no face was found in {video}")


def paste_still(image: ImageBGR, landmarks: Points, frame: ImageBGR, target: Points) -> ImageBGR:
    """`image`'s face moved onto the face at `target` in `frame` (similarity on the stable points),
    with a hull mask feathered over 10% of the inter-ocular distance."""
    matrix, _ = cv2.estimateAffinePartial2D(
        landmarks[list(STABLE_POINTS), :2].astype(np.float32),
        target[list(STABLE_POINTS), :2].astype(np.float32),
    )
    if matrix is None:  # degenerate points: nothing sensible to paste
        return frame
    h, w = frame.shape[:2]
    warped = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    moved = landmarks[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    mask = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(moved[list(FACE_OVAL)]).astype(np.int32)), (1.0,))
    sigma = max(0.1 * inter_ocular(moved), 1.0)
    soft = cv2.GaussianBlur(cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=int(sigma)), (0, 0), sigma)
    out = frame * (1 - soft[..., None]) + warped * soft[..., None]
    return np.asarray(np.clip(np.round(out), 0, 255), np.uint8)


def every_face(faces: list[RawFace]) -> list[RawFace]:
    return faces


def write_pasted_still(src: Path, dst: Path, out: Path, crf: int = 18,
                       pick: Callable[[list[RawFace]], list[RawFace]] = every_face) -> Path:  # fmt: skip
    """Every dst frame with src's first face pasted still over each dst face that `pick` keeps
    (frames without a face pass through)."""
    image, landmarks = first_face(src)
    finder = open_detector()
    settings = EncodeSettings(crf=crf, preset="veryfast", audio="none")
    try:
        with VideoWriter(out, fps=Fraction(probe_video(dst).fps), settings=settings) as writer:
            for frame in open_frames(dst):
                picture = frame.image_bgr_u8
                for face in pick(finder.find(picture)):
                    picture = paste_still(image, landmarks, picture, face.landmarks_478)
                writer.write(picture, frame.pts_s)
            writer.close()
    finally:
        finder.close()
    return out


# Rest, mouth open, smile, blink, brows raised: one person looking different.
CALIBRATION_EXPRESSIONS = (
    Expression(0, 0), Expression(1, 0), Expression(0, 0, 1, 0), Expression(0, 0.8), Expression(0, 0, 0, 1),
)  # fmt: skip


def identity_distances(portraits: list[ImageBGR]) -> tuple[list[float], list[float]]:
    """dlib distances between renders of one portrait under CALIBRATION_EXPRESSIONS (same person)
    and between renders of two portraits (different people)."""
    finder, describer = open_detector(), FaceDescriber()
    people = []
    try:
        for image in portraits:
            found = finder.find(image)
            if not found:
                continue
            puppet = FacePuppet(image, found[0].landmarks_478)
            renders = []
            for expression in CALIBRATION_EXPRESSIONS:
                rendered = puppet.render(expression)
                marks = finder.find(rendered)
                if marks:
                    renders.append(describer.describe(rendered, marks[0].landmarks_478))
            people.append(np.array(renders))
    finally:
        finder.close()
    same = [float(np.linalg.norm(a - b)) for p in people for i, a in enumerate(p) for b in p[i + 1 :]]
    other = [float(np.linalg.norm(a - b)) for i, p in enumerate(people) for q in people[i + 1 :]
             for a in p for b in q]  # fmt: skip
    return same, other

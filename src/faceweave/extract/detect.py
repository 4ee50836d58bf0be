"""Faces and their 478-point mesh in a frame, with mediapipe's bundled models (no download).

The full-range detector finds faces (small ones too); the face mesh then runs on a square crop
around each detection, because on a whole frame its own short-range detector misses faces under
about 130 px and, left alone, it also answers on things that are not faces. A face counts only
when the detector's score passes the threshold *and* the mesh finds it in the crop.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.media.decode import upright
from faceweave.records import ImageBGR, as_image

# The mesh wants the face to fill about half of its input; this much context around the box.
CROP_CONTEXT = 1.9
MESH_INPUT_PX = 256
# The detector looks at a 192 px square anyway; giving it a smaller copy saves copying and scaling
# a large frame into its graph, and its relative boxes are the same.
DETECTOR_MAX_SIDE = 640


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Hide what mediapipe's C++ side (TFLite, glog) prints to file descriptor 2 meanwhile.

    Its lines ("Created TensorFlow Lite XNNPACK delegate", feedback-manager warnings) mean nothing
    to a user and would bury our one-sentence messages. Set FACEWEAVE_NATIVE_LOGS=1 to see them.
    """
    if os.environ.get("FACEWEAVE_NATIVE_LOGS") == "1":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@dataclass(frozen=True)
class RawFace:
    """One face found in a frame, in frame pixels: box, detector score, (478, 3) landmarks.

    Landmark z is depth in pixels (mediapipe's relative z scaled by the crop width), smaller is
    nearer the camera. `rotation_deg` is the counter-clockwise turn of the frame copy it was found in.
    """

    bbox_xyxy: tuple[float, float, float, float]
    score: float
    landmarks_478: npt.NDArray[np.float64]
    rotation_deg: int = 0


def square_crop_box(
    bbox_xyxy: tuple[float, float, float, float], context: float, width: int, height: int
) -> tuple[int, int, int]:
    """(x0, y0, side) of a square around the box, enlarged by `context`; may leave the frame."""
    x0, y0, x1, y1 = bbox_xyxy
    side = round(max(x1 - x0, y1 - y0) * context)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return round(cx - side / 2), round(cy - side / 2), max(side, 8)


def crop_square(image: ImageBGR, x0: int, y0: int, side: int) -> ImageBGR:
    """The square [x0, x0+side) x [y0, y0+side), padded with black where it leaves the image."""
    h, w = image.shape[:2]
    out = np.zeros((side, side, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out


def rotate_points_back(
    points: npt.NDArray[np.float64], rotation_deg: int, width: int, height: int
) -> npt.NDArray[np.float64]:
    """Map (x, y, ...) found in a copy rotated counter-clockwise by `rotation_deg` back to the
    original frame of size (width, height)."""
    out = points.copy()
    x, y = points[:, 0], points[:, 1]
    if rotation_deg == 90:  # rotated copy is height wide: (x', y') = (y, width - 1 - x)
        out[:, 0], out[:, 1] = width - 1 - y, x
    elif rotation_deg == 180:
        out[:, 0], out[:, 1] = width - 1 - x, height - 1 - y
    elif rotation_deg == 270:
        out[:, 0], out[:, 1] = y, height - 1 - x
    return out


def detector_input(image: ImageBGR) -> ImageBGR:
    """RGB copy at most DETECTOR_MAX_SIDE on its long side (boxes come back relative)."""
    h, w = image.shape[:2]
    scale = DETECTOR_MAX_SIDE / max(h, w)
    if scale < 1:
        image = as_image(
            cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        )
    return as_image(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


class FaceMesher:
    """The 478-point mesh of the one face in a box of a frame; one instance per thread (mediapipe
    graphs are not shareable). `verify` finds marks with it, and the merger places them with it.

    `tracking` skips the mesh's own face detector while the face it found last is still there: 40%
    faster, and on crops centred on the box the face is where it was in the last crop.
    """

    def __init__(self, tracking: bool = False) -> None:
        import mediapipe as mp  # heavy import, only where faces are found

        solutions: Any = mp.solutions
        with native_stderr_silenced():
            self._mesh = solutions.face_mesh.FaceMesh(
                static_image_mode=not tracking,
                max_num_faces=1,
                refine_landmarks=True,
                min_detection_confidence=0.3,
            )
            # The graph starts its calculators lazily on the first frame, and logs as it does.
            self._mesh.process(np.zeros((MESH_INPUT_PX, MESH_INPUT_PX, 3), np.uint8))

    def close(self) -> None:
        self._mesh.close()

    def in_box(
        self, image: ImageBGR, bbox: tuple[float, float, float, float]
    ) -> npt.NDArray[np.float64] | None:
        """(478, 3) landmarks in frame pixels, or None when the face found is not in `bbox`."""
        h, w = image.shape[:2]
        x0, y0, side = square_crop_box(bbox, CROP_CONTEXT, w, h)
        crop = cv2.resize(crop_square(image, x0, y0, side), (MESH_INPUT_PX, MESH_INPUT_PX))
        result = self._mesh.process(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
        if not result.multi_face_landmarks:
            return None
        marks = result.multi_face_landmarks[0].landmark
        rel = np.array([(p.x, p.y, p.z) for p in marks], np.float64)
        points = rel * side
        points[:, 0] += x0
        points[:, 1] += y0
        # The mesh must land inside the box, else it found another face.
        cx, cy = points[:, 0].mean(), points[:, 1].mean()
        if not (bbox[0] <= cx <= bbox[2] and bbox[1] <= cy <= bbox[3]):
            return None
        return points


class MediapipeFaceFinder:
    """Detector plus mesh; one instance per process (mediapipe graphs are not shareable)."""

    def __init__(self, min_score: float = 0.5, max_faces: int = 4) -> None:
        import mediapipe as mp  # heavy import, only where faces are found

        solutions: Any = mp.solutions
        with native_stderr_silenced():
            self._detector = solutions.face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=min_score
            )
            self._detector.process(np.zeros((MESH_INPUT_PX, MESH_INPUT_PX, 3), np.uint8))
        self._mesher = FaceMesher()
        self.min_score = min_score
        self.max_faces = max_faces

    def close(self) -> None:
        self._detector.close()
        self._mesher.close()

    def _boxes(
        self, rgb: npt.NDArray[np.uint8], w: int, h: int
    ) -> list[tuple[tuple[float, float, float, float], float]]:
        """Boxes in pixels of a w x h image, from a (maybe smaller) RGB copy of it."""
        result = self._detector.process(rgb)
        boxes = []
        for detection in result.detections or []:
            score = float(detection.score[0])
            if score < self.min_score:
                continue
            box = detection.location_data.relative_bounding_box
            x0, y0 = box.xmin * w, box.ymin * h
            boxes.append(((x0, y0, x0 + box.width * w, y0 + box.height * h), score))
        boxes.sort(key=lambda b: -b[1])
        return boxes[: self.max_faces]

    def find(self, image: ImageBGR, rotation_deg: int = 0) -> list[RawFace]:
        """Faces in `image`, searched in a copy turned counter-clockwise by `rotation_deg`."""
        with native_stderr_silenced():
            return self._find(image, rotation_deg)

    def _find(self, image: ImageBGR, rotation_deg: int) -> list[RawFace]:
        turned = upright(image, rotation_deg) if rotation_deg else image
        h, w = image.shape[:2]
        faces = []
        th, tw = turned.shape[:2]
        for bbox, score in self._boxes(detector_input(turned), tw, th):
            points = self._mesher.in_box(turned, bbox)
            if points is None:
                continue
            if rotation_deg:
                points = rotate_points_back(points, rotation_deg, w, h)
            x0, y0 = points[:, :2].min(axis=0)
            x1, y1 = points[:, :2].max(axis=0)
            faces.append(RawFace((float(x0), float(y0), float(x1), float(y1)), score, points, rotation_deg))
        return faces

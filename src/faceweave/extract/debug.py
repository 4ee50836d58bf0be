"""Debug frames: boxes, landmarks, track ids and crop outlines drawn on the frame."""

from __future__ import annotations

import cv2
import numpy as np

from faceweave.formats.aligned import FaceMeta
from faceweave.geometry import apply
from faceweave.records import ImageBGR

_COLOURS = ((0, 200, 255), (255, 120, 0), (80, 220, 80), (220, 80, 220), (0, 80, 255), (255, 255, 0))


def draw_debug(frame: ImageBGR, faces: list[FaceMeta]) -> ImageBGR:
    """A copy of `frame` with each face's box, mesh points, crop outline and track id."""
    out = frame.copy()
    for meta in faces:
        colour = _COLOURS[meta.track_id % len(_COLOURS)]
        x0, y0, x1, y1 = (round(v) for v in meta.bbox_xyxy)
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, 1, cv2.LINE_AA)
        for x, y in meta.landmarks_frame[:, :2].astype(int):
            out[min(max(y, 0), out.shape[0] - 1), min(max(x, 0), out.shape[1] - 1)] = colour
        s = meta.size_px
        corners = apply(meta.face_to_frame, np.array([[0, 0], [s, 0], [s, s], [0, s]], np.float64))
        cv2.polylines(out, [np.round(corners).astype(np.int32)], True, (255, 255, 255), 1, cv2.LINE_AA)
        label = f"track {meta.track_id}  {meta.score:.2f}  yaw {meta.pose.yaw:+.0f}"
        cv2.putText(out, label, (x0, max(y0 - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    return out

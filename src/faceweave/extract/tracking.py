"""Face tracks across frames, and per-track temporal smoothing of landmarks.

Tracking links each face to the live track whose last box overlaps it most (IoU), or failing
that whose centre is nearest within half a face. A face left unmatched is, when an `identify`
function is given, compared by identity embedding with every track not seen in this frame (also
long-lost ones): a face that left the picture, or crossed another, gets its old track id back.
Otherwise it opens a new track. Smoothing is a
One-Euro filter (Casiez et al., 2012): strong at rest, where jitter shows, and light in fast motion,
where lag would show. It is causal, so it streams with the frames.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

Box = tuple[float, float, float, float]


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def centre_distance(a: Box, b: Box) -> float:
    """Distance between box centres, in units of the larger box's side."""
    side = max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1], 1e-6)
    return math.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2) / side


@dataclass
class _Track:
    track_id: int
    box: Box
    last_frame: int


Identify = Callable[[int], npt.NDArray[np.float64]]  # box index -> identity descriptor


@dataclass
class Tracker:
    """Greedy frame-to-frame association; a track survives `max_gap` frames without a face."""

    min_iou: float = 0.2
    max_centre_distance: float = 0.5
    max_gap: int = 25
    max_identity_distance: float = 0.5
    _tracks: list[_Track] = field(default_factory=list)
    _next_id: int = 0
    _identities: dict[int, npt.NDArray[np.float64]] = field(default_factory=dict)

    def _relink(self, descriptor: npt.NDArray[np.float64], taken: set[int]) -> int | None:
        """The id of the closest known track not taken in this frame, if it is the same person."""
        best, best_distance = None, self.max_identity_distance
        for track_id, known in self._identities.items():
            distance = float(np.linalg.norm(known - descriptor))
            if track_id not in taken and distance < best_distance:
                best, best_distance = track_id, distance
        return best

    def extend(self, track_id: int, frame_index: int, box: Box) -> None:
        """A face of `track_id` found at `box` by other means (a bridge over a detector miss)."""
        for track in self._tracks:
            if track.track_id == track_id:
                track.box, track.last_frame = box, frame_index

    def forget(self) -> None:
        """A shot cut: no face of the last shot continues into the next by position."""
        self._tracks = []

    def assign(self, frame_index: int, boxes: list[Box], identify: Identify | None = None) -> list[int]:
        live = [t for t in self._tracks if frame_index - t.last_frame <= self.max_gap]
        pairs = sorted(
            ((iou(t.box, b), -centre_distance(t.box, b), ti, bi)
             for ti, t in enumerate(live) for bi, b in enumerate(boxes)),
            reverse=True,
        )  # fmt: skip
        ids: list[int | None] = [None] * len(boxes)
        used: set[int] = set()
        for overlap, neg_dist, ti, bi in pairs:
            if ti in used or ids[bi] is not None:
                continue
            if overlap < self.min_iou and -neg_dist > self.max_centre_distance:
                continue
            used.add(ti)
            ids[bi] = live[ti].track_id
            live[ti].box, live[ti].last_frame = boxes[bi], frame_index
        for bi, box in enumerate(boxes):
            if ids[bi] is not None:
                continue
            descriptor = identify(bi) if identify is not None else None
            taken = {i for i in ids if i is not None}
            track_id = self._relink(descriptor, taken) if descriptor is not None else None
            if track_id is None:
                track_id, self._next_id = self._next_id, self._next_id + 1
                if descriptor is not None:
                    self._identities[track_id] = descriptor
            ids[bi] = track_id
            live = [t for t in live if t.track_id != track_id]
            live.append(_Track(track_id, box, frame_index))
        self._tracks = live
        return [int(i) for i in ids if i is not None]


class CutDetector:
    """A shot cut is a jump in the frame's colour histogram that motion within one shot does not make."""

    def __init__(self, threshold: float = 0.45) -> None:
        self.threshold = threshold
        self._last: npt.NDArray[np.float32] | None = None

    def __call__(self, image: npt.NDArray[np.uint8]) -> bool:
        small = cv2.resize(image, (64, 36), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
        counts = np.asarray(cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256]), np.float32)
        hist = counts / max(float(counts.sum()), 1.0)
        last, self._last = self._last, hist
        if last is None:
            return False
        return float(cv2.compareHist(last, hist, cv2.HISTCMP_BHATTACHARYYA)) > self.threshold


def _alpha(cutoff_hz: npt.NDArray[np.float64] | float, dt: float) -> npt.NDArray[np.float64]:
    tau = 1.0 / (2 * math.pi * np.asarray(cutoff_hz, np.float64))
    return np.asarray(1.0 / (1.0 + tau / dt), np.float64)


def one_euro_params(strength: float) -> tuple[float, float]:
    """(min cutoff Hz, beta) for a strength in [0, 1]; 0 means no smoothing."""
    min_cutoff = 10 ** (1.3 - 2.0 * strength)  # 0.5 -> 2 Hz, 1 -> 0.2 Hz
    return min_cutoff, 4.0


@dataclass
class OneEuro:
    """One-Euro filter over an array of points; speed is measured in face sizes per second, so
    the same strength behaves alike for small and large faces."""

    strength: float
    _x: npt.NDArray[np.float64] | None = None
    _dx: npt.NDArray[np.float64] | None = None
    _t: float = 0.0

    def __call__(self, t: float, x: npt.NDArray[np.float64], face_size: float) -> npt.NDArray[np.float64]:
        x = np.asarray(x, np.float64)
        if self.strength <= 0 or self._x is None or self._dx is None or t <= self._t:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x
        dt = t - self._t
        min_cutoff, beta = one_euro_params(self.strength)
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(1.0, dt) * (dx - self._dx)
        speed = np.linalg.norm(self._dx[..., :2], axis=-1, keepdims=True) / max(face_size, 1.0)
        cutoff = min_cutoff + beta * speed
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x.copy()

"""Detection in worker processes, fed by the streaming decoder, results in frame order.

At most a few frames per worker are in flight, so memory stays flat however long the video.
With one worker everything runs in this process; results are the same either way because each
frame is processed independently and the order-dependent work (tracking, smoothing) stays here.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from faceweave.extract.detect import MediapipeFaceFinder, RawFace
from faceweave.records import Frame

IN_FLIGHT_PER_WORKER = 3


@dataclass(frozen=True)
class DetectSettings:
    min_score: float
    max_faces: int
    try_rotations: bool
    references: npt.NDArray[np.float64] | None  # (n, 128) descriptors, or None


@dataclass(frozen=True)
class FrameFaces:
    frame: Frame
    faces: list[RawFace]
    distances: list[float | None]


@dataclass(frozen=True)
class _Found:
    """What a worker sends back: faces only; the frame stays in the parent (no second copy)."""

    faces: list[RawFace]
    distances: list[float | None]


class FrameDetector:
    """Everything one process needs to turn a frame into faces (and identity distances)."""

    def __init__(self, settings: DetectSettings) -> None:
        self.settings = settings
        self.finder = MediapipeFaceFinder(settings.min_score, settings.max_faces)
        self.describer = None
        if settings.references is not None:
            from faceweave.extract.identity import FaceDescriber

            self.describer = FaceDescriber()

    def __call__(self, frame: Frame) -> FrameFaces:
        from faceweave.extract.identity import nearest_distance

        faces = self.finder.find_any_rotation(frame.image_bgr_u8, self.settings.try_rotations)
        faces.sort(key=lambda f: (f.bbox_xyxy[0], f.bbox_xyxy[1]))
        distances: list[float | None] = [None] * len(faces)
        if self.describer is not None and self.settings.references is not None:
            distances = [
                nearest_distance(
                    self.describer.describe(frame.image_bgr_u8, f.landmarks_478), self.settings.references
                )
                for f in faces
            ]
        return FrameFaces(frame, faces, distances)


_worker: FrameDetector | None = None


def _init_worker(settings: DetectSettings) -> None:
    global _worker
    _worker = FrameDetector(settings)


def _run_worker(frame: Frame) -> _Found:
    assert _worker is not None
    found = _worker(frame)
    return _Found(found.faces, found.distances)


def detect_stream(frames: Iterable[Frame], settings: DetectSettings, workers: int) -> Iterator[FrameFaces]:
    """FrameFaces for every frame, in input order."""
    if workers <= 1:
        detector = FrameDetector(settings)
        try:
            yield from (detector(frame) for frame in frames)
        finally:
            detector.finder.close()
        return
    # spawn, not fork: the parent may hold threads (decoder, torch) that a fork would copy broken.
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(settings,)) as pool:
        pending: deque[tuple[Frame, multiprocessing.pool.AsyncResult[_Found]]] = deque()
        for frame in frames:
            pending.append((frame, pool.apply_async(_run_worker, (frame,))))
            if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                done, result = pending.popleft()
                found = result.get()
                yield FrameFaces(done, found.faces, found.distances)
        while pending:
            done, result = pending.popleft()
            found = result.get()
            yield FrameFaces(done, found.faces, found.distances)

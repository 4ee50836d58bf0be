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
from pathlib import Path

import numpy as np
import numpy.typing as npt

from faceweave.extract.detect import MediapipeFaceFinder, RawFace
from faceweave.formats.aligned import FaceMeta, write_aligned_face
from faceweave.records import Frame, ImageBGR

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


@dataclass(frozen=True)
class FaceWrite:
    """One aligned face to encode and write: the PNG/JPEG encoding and metadata serialisation
    are the costliest steps left in the parent, so they go to the pool too."""

    folder: Path
    crop: ImageBGR
    meta: FaceMeta
    fmt: str
    jpeg_quality: int


def _write_face(job: FaceWrite) -> Path:
    return write_aligned_face(job.folder, job.crop, job.meta, job.fmt, job.jpeg_quality)


class DetectionPool:
    """Detection (and face writing) in `workers` processes, or in this one when workers <= 1.

    Use as a context manager: `detect` yields FrameFaces in input order; `write` queues a face;
    leaving the block waits for every write and re-raises the first failure (a full disk, say).
    """

    def __init__(self, settings: DetectSettings, workers: int) -> None:
        self.settings, self.workers = settings, workers
        self._pool: multiprocessing.pool.Pool | None = None
        self._local: FrameDetector | None = None
        self._writes: deque[multiprocessing.pool.AsyncResult[Path]] = deque()

    def __enter__(self) -> DetectionPool:
        if self.workers <= 1:
            self._local = FrameDetector(self.settings)
        else:
            # spawn, not fork: the parent may hold threads (decoder, torch) a fork would copy broken.
            context = multiprocessing.get_context("spawn")
            self._pool = context.Pool(self.workers, initializer=_init_worker, initargs=(self.settings,))
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self._drain_writes(0)
        finally:
            if self._local is not None:
                self._local.finder.close()
            if self._pool is not None:
                self._pool.terminate() if exc[0] is not None else self._pool.close()
                self._pool.join()

    def detect(self, frames: Iterable[Frame]) -> Iterator[FrameFaces]:
        if self._local is not None:
            yield from (self._local(frame) for frame in frames)
            return
        assert self._pool is not None
        pending: deque[tuple[Frame, multiprocessing.pool.AsyncResult[_Found]]] = deque()
        for frame in frames:
            pending.append((frame, self._pool.apply_async(_run_worker, (frame,))))
            while len(pending) >= self.workers * IN_FLIGHT_PER_WORKER or (pending and pending[0][1].ready()):
                done, result = pending.popleft()
                found = result.get()
                yield FrameFaces(done, found.faces, found.distances)
        while pending:
            done, result = pending.popleft()
            found = result.get()
            yield FrameFaces(done, found.faces, found.distances)

    def write(self, job: FaceWrite) -> None:
        if self._pool is None:
            _write_face(job)
            return
        self._writes.append(self._pool.apply_async(_write_face, (job,)))
        self._drain_writes(self.workers * IN_FLIGHT_PER_WORKER)

    def _drain_writes(self, keep: int) -> None:
        """Collect finished writes (re-raising their errors) until at most `keep` are in flight."""
        while self._writes and (len(self._writes) > keep or self._writes[0].ready()):
            self._writes.popleft().get()

"""Detection in worker processes, fed by the streaming decoder, results in frame order.

At most a few frames per worker are in flight, so memory stays flat however long the video.
With one worker everything runs in this process; results are the same either way because each
frame is processed independently and the order-dependent work (tracking, smoothing) stays here.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import shared_memory
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from faceweave.childproc import shield_worker, signals_held, stop_workers
from faceweave.detectors import find_any_rotation, open_detector
from faceweave.errors import UserError
from faceweave.extract.detect import RawFace
from faceweave.formats.aligned import FaceMeta, write_aligned_face
from faceweave.records import Frame, ImageBGR

IN_FLIGHT_PER_WORKER = 3

T = TypeVar("T")


@dataclass(frozen=True)
class DetectSettings:
    min_score: float
    max_faces: int
    try_rotations: bool
    references: npt.NDArray[np.float64] | None  # (n, 128) descriptors, or None
    detector: str = "mediapipe"  # a name in DETECTORS


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
        self.finder = open_detector(settings.detector, settings.min_score, settings.max_faces)
        self.describer = None
        if settings.references is not None:
            from faceweave.extract.identity import FaceDescriber

            self.describer = FaceDescriber()

    def __call__(self, frame: Frame) -> FrameFaces:
        from faceweave.extract.identity import nearest_distance

        faces = find_any_rotation(self.finder, frame.image_bgr_u8, self.settings.try_rotations)
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


@dataclass(frozen=True)
class _SharedFrame:
    """A frame handed over through a shared-memory slot instead of a pickled copy."""

    slot: str
    shape: tuple[int, int, int]
    index: int
    pts_s: float


class FrameSlots:
    """Shared-memory buffers for frames in flight: one copy in, none out (pickling a 1080p frame
    costs about four copies). A frame larger than a slot travels pickled instead."""

    def __init__(self, count: int, nbytes: int) -> None:
        self._shms = [shared_memory.SharedMemory(create=True, size=max(nbytes, 1)) for _ in range(count)]
        self._free = deque(range(count))
        self.nbytes = nbytes

    def put(self, frame: Frame) -> tuple[int, _SharedFrame] | None:
        image = frame.image_bgr_u8
        if image.nbytes > self.nbytes or not self._free or image.ndim != 3:
            return None
        slot = self._free.popleft()
        shm = self._shms[slot]
        np.ndarray(image.shape, np.uint8, buffer=shm.buf)[:] = image
        h, w, c = image.shape
        return slot, _SharedFrame(shm.name, (h, w, c), frame.index, frame.pts_s)

    def release(self, slot: int) -> None:
        self._free.append(slot)

    def close(self) -> None:
        for shm in self._shms:
            shm.close()
            shm.unlink()


_worker: FrameDetector | None = None
_attached: dict[str, shared_memory.SharedMemory] = {}


def _init_worker(settings: DetectSettings, parent_pid: int) -> None:
    global _worker
    shield_worker(parent_pid)
    _worker = FrameDetector(settings)


def _frame_from(job: Frame | _SharedFrame) -> Frame:
    if isinstance(job, Frame):
        return job
    shm = _attached.get(job.slot)
    if shm is None:
        # Spawned workers share the parent's resource tracker, so attaching here does not make
        # this process the block's owner; the parent unlinks it.
        shm = _attached[job.slot] = shared_memory.SharedMemory(name=job.slot)
    image: ImageBGR = np.ndarray(job.shape, np.uint8, buffer=shm.buf)
    return Frame(job.index, job.pts_s, image)


def _run_worker(job: Frame | _SharedFrame) -> _Found:
    assert _worker is not None
    found = _worker(_frame_from(job))
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


def _result(future: Future[T]) -> T:
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise UserError(
            "a detection worker died (killed, or out of memory); rerun, or use --workers 1"
        ) from exc


class DetectionPool:
    """Detection (and face writing) in `workers` processes, or in this one when workers <= 1.

    Use as a context manager: `detect` yields FrameFaces in input order; `write` queues a face;
    leaving the block waits for every write and re-raises the first failure (a full disk, say).
    """

    def __init__(self, settings: DetectSettings, workers: int) -> None:
        self.settings, self.workers = settings, workers
        self._pool: ProcessPoolExecutor | None = None
        self._local: FrameDetector | None = None
        self._writes: deque[Future[Path]] = deque()

    def __enter__(self) -> DetectionPool:
        if self.workers <= 1:
            self._local = FrameDetector(self.settings)
        else:
            # spawn, not fork: the parent may hold threads (decoder, torch) a fork would copy broken.
            # An executor, not multiprocessing.Pool: a worker that dies (killed, out of memory)
            # breaks it with an error instead of leaving the parent waiting on its queue forever.
            context = multiprocessing.get_context("spawn")
            with signals_held():
                self._pool = ProcessPoolExecutor(
                    self.workers, context, initializer=_init_worker, initargs=(self.settings, os.getpid())
                )
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self._drain_writes(0)
        finally:
            if self._local is not None:
                self._local.finder.close()
            if self._pool is not None:
                if exc[0] is not None:
                    # Interrupted or failed: whatever the workers are doing is no longer wanted, and
                    # they ignore SIGTERM (childproc), so they are killed.
                    processes = list(getattr(self._pool, "_processes", {}).values())
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    stop_workers(processes)
                else:
                    self._pool.shutdown(wait=True)

    def detect(self, frames: Iterable[Frame]) -> Iterator[FrameFaces]:
        if self._local is not None:
            yield from (self._local(frame) for frame in frames)
            return
        assert self._pool is not None
        in_flight = self.workers * IN_FLIGHT_PER_WORKER
        pending: deque[tuple[Frame, int | None, Future[_Found]]] = deque()
        slots: FrameSlots | None = None
        try:
            for frame in frames:
                if slots is None:
                    slots = FrameSlots(in_flight, frame.image_bgr_u8.nbytes)
                shared = slots.put(frame)
                job: Frame | _SharedFrame = frame if shared is None else shared[1]
                pending.append(
                    (
                        frame,
                        None if shared is None else shared[0],
                        self._pool.submit(_run_worker, job),
                    )
                )
                while len(pending) >= in_flight or (pending and pending[0][2].done()):
                    yield self._collect(pending.popleft(), slots)
            while pending:
                yield self._collect(pending.popleft(), slots)
        finally:
            if slots is not None:
                slots.close()

    @staticmethod
    def _collect(entry: tuple[Frame, int | None, Future[_Found]], slots: FrameSlots | None) -> FrameFaces:
        frame, slot, result = entry
        found = _result(result)
        if slot is not None and slots is not None:
            slots.release(slot)
        return FrameFaces(frame, found.faces, found.distances)

    def write(self, job: FaceWrite) -> None:
        if self._pool is None:
            _write_face(job)
            return
        self._writes.append(self._pool.submit(_write_face, job))
        self._drain_writes(self.workers * IN_FLIGHT_PER_WORKER)

    def _drain_writes(self, keep: int) -> None:
        """Collect finished writes (re-raising their errors) until at most `keep` are in flight."""
        while self._writes and (len(self._writes) > keep or self._writes[0].done()):
            _result(self._writes.popleft())

"""Per-face statistics of a faceset, cached beside its faces so that sorting 20,000 faces reads
one small file instead of 20,000 images.

Three groups, each computed only when a tool needs it:
- `meta`: from the metadata alone (pose, size in frame, detector score, expression, mesh shape);
- `pixels`: from the decoded crop (sharpness, gradient structure, brightness, hue, colour
  histogram, perceptual hash), measured inside the face hull at one analysis size;
- `identity`: dlib's 128-d descriptor.

The cache (`.faceweave-stats.npz`, numpy arrays only, read without pickle) is never trusted over the
files: a row counts only while a file has the same size, modification time and inode (a rename
keeps all three); any other file is measured again, and a damaged or foreign cache is measured
over from scratch.
"""

from __future__ import annotations

import contextlib
import io
import math
import multiprocessing
import os
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.atomic import write_bytes_atomic
from faceweave.childproc import shield_worker, signals_held, stop_workers
from faceweave.errors import UserError
from faceweave.facemasks import landmark_masks
from faceweave.formats.aligned import (
    FaceFileError,
    FaceMeta,
    list_face_files,
    read_aligned_face,
    read_face_meta,
)

CACHE_NAME = ".faceweave-stats.npz"
STATS_VERSION = 2  # bump when a statistic's definition changes: older caches are measured again
ANALYSIS_PX = 192  # pixel statistics are measured at one size, so faces of any crop size compare
HIST_BINS = 16  # per Lab channel
GROUPS = ("meta", "pixels", "identity")
PARALLEL_FROM = 64  # fewer faces than this are measured in this process (workers cost ~1 s to start)

Say = Callable[[str], None]
Array = npt.NDArray[Any]

# Column name -> (group, dtype, per-face shape).
COLUMNS: dict[str, tuple[str, str, tuple[int, ...]]] = {
    "frame_index": ("meta", "int64", ()),
    "face_index": ("meta", "int64", ()),
    "track_id": ("meta", "int64", ()),
    "score": ("meta", "float32", ()),
    "bridged": ("meta", "bool", ()),
    "yaw": ("meta", "float32", ()),
    "pitch": ("meta", "float32", ()),
    "roll": ("meta", "float32", ()),
    "size_frame": ("meta", "float32", ()),  # sqrt of the face box area in frame pixels
    "mouth_open": ("meta", "float32", ()),
    "eye_open": ("meta", "float32", ()),
    "smile": ("meta", "float32", ()),
    "brow_raise": ("meta", "float32", ()),
    "mesh_jump": ("meta", "float32", ()),  # detector mesh vs smoothed mesh, inter-ocular units
    "shape": ("meta", "float32", (17, 2)),  # rigid mesh points in the face frame
    "size_px": ("meta", "int64", ()),
    "face_type": ("meta", "<U16", ()),
    "source": ("meta", "<U128", ()),
    "blur": ("pixels", "float32", ()),  # variance of the Laplacian
    "gradient": ("pixels", "float32", (3,)),  # structure tensor: mean gx*gx, gx*gy, gy*gy
    "brightness": ("pixels", "float32", ()),  # mean L* (0-100)
    "hue": ("pixels", "float32", ()),  # circular mean hue, degrees
    "hist": ("pixels", "float32", (3 * HIST_BINS,)),  # Lab histogram, each channel sums to 1
    "phash": ("pixels", "uint64", ()),  # DCT perceptual hash
    "descriptor": ("identity", "float32", (128,)),
}
EXPRESSIONS = ("mouth_open", "eye_open", "smile", "brow_raise")


@dataclass(frozen=True)
class Damaged:
    name: str
    reason: str


@dataclass
class FacesetStats:
    """One row per face file of `folder`, in file-name order; `columns` holds what was asked for."""

    folder: Path
    names: list[str]
    columns: dict[str, Array] = field(default_factory=dict)
    damaged: list[Damaged] = field(default_factory=list)
    measured: int = 0  # faces measured now rather than read from the cache

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, name: str) -> Array:
        return self.columns[name]

    def paths(self) -> list[Path]:
        return [self.folder / name for name in self.names]


def _signature(path: Path) -> tuple[int, int, int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev


# --- measuring one face -----------------------------------------------------------------------


def meta_row(meta: FaceMeta) -> dict[str, Any]:
    from faceweave.quality.features import STABLE_POINTS, features, inter_ocular, to_face_frame

    x0, y0, x1, y1 = meta.bbox_xyxy
    measured = features(meta.landmarks_frame)
    iod = max(inter_ocular(meta.landmarks_frame), 1e-6)
    jump = np.linalg.norm(meta.landmarks_frame_raw[:, :2] - meta.landmarks_frame[:, :2], axis=1).mean() / iod
    return {
        "frame_index": meta.frame_index, "face_index": meta.face_index, "track_id": meta.track_id,
        "score": meta.score, "bridged": meta.bridged, "yaw": meta.pose.yaw, "pitch": meta.pose.pitch,
        "roll": meta.pose.roll, "size_frame": math.sqrt(max(x1 - x0, 0.0) * max(y1 - y0, 0.0)),
        **{name: getattr(measured, name) for name in EXPRESSIONS},
        "mesh_jump": float(jump), "shape": to_face_frame(meta.landmarks_frame)[list(STABLE_POINTS), :2],
        "size_px": meta.size_px, "face_type": meta.face_type, "source": meta.source[:128],
    }  # fmt: skip


def _phash(gray: npt.NDArray[np.float32]) -> int:
    """64-bit perceptual hash: signs of the lowest 8x8 DCT frequencies (DC left out) against
    their median. Survives re-encoding and small brightness changes, not a change of content."""
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA)
    low = cv2.dct(np.asarray(small, np.float32))[:8, :8].flatten()
    bits = low > np.median(low[1:])
    bits[0] = False
    return int(np.packbits(bits).view(">u8")[0])


def pixel_row(image: npt.NDArray[np.uint8], meta: FaceMeta) -> dict[str, Any]:
    side = ANALYSIS_PX
    face = cv2.resize(
        image, (side, side), interpolation=cv2.INTER_AREA if image.shape[0] > side else cv2.INTER_LINEAR
    )
    hull, _ = landmark_masks(meta.landmarks_crop, side, side / meta.size_px)
    # Inside the face, away from its edge: the background and the hull's own edge are not the face.
    inner = cv2.erode(hull, np.ones((9, 9), np.uint8)) > 0.5
    if inner.sum() < 64:
        inner = np.ones((side, side), bool)
    gray = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY).astype(np.float32)
    laplacian = cv2.Laplacian(gray, cv2.CV_32F, ksize=3)[inner]
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)[inner]
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)[inner]
    lab = cv2.cvtColor(face, cv2.COLOR_BGR2LAB)[inner].astype(np.float32)
    hist = [np.histogram(lab[:, c], HIST_BINS, (0, 256))[0] / max(len(lab), 1) for c in range(3)]
    hsv = cv2.cvtColor(face, cv2.COLOR_BGR2HSV)[inner].astype(np.float32)
    angle = hsv[:, 0] * (2 * math.pi / 180)  # OpenCV hue: 0-179 for 0-358 degrees
    weight = hsv[:, 1] / 255  # grey pixels carry no hue
    hue = math.degrees(
        math.atan2(float((np.sin(angle) * weight).sum()), float((np.cos(angle) * weight).sum()))
    )
    return {
        "blur": float(laplacian.var()),
        "gradient": np.array([np.mean(gx * gx), np.mean(gx * gy), np.mean(gy * gy)]),
        "brightness": float(lab[:, 0].mean() * 100 / 255),
        "hue": hue % 360,
        "hist": np.concatenate(hist),
        "phash": _phash(gray),
    }


_describer: Any = None


def identity_row(image: npt.NDArray[np.uint8], meta: FaceMeta) -> dict[str, Any]:
    global _describer
    if _describer is None:
        from faceweave.extract.identity import FaceDescriber

        _describer = FaceDescriber()
    return {"descriptor": _describer.describe(image, meta.landmarks_crop)}


def measure_face(path: Path, groups: Sequence[str]) -> dict[str, Any] | Damaged:
    """The statistics of `groups` for one face file, or why it cannot be measured."""
    try:
        if set(groups) <= {"meta"}:
            meta = read_face_meta(path, check_size=True)
            return meta_row(meta)
        image, meta = read_aligned_face(path)
    except FaceFileError as exc:
        return Damaged(path.name, str(exc).removeprefix(str(path)).strip())
    row = meta_row(meta)
    if "pixels" in groups:
        row.update(pixel_row(image, meta))
    if "identity" in groups:
        row.update(identity_row(image, meta))
    return row


def _measure_chunk(paths: list[Path], groups: tuple[str, ...]) -> list[dict[str, Any] | Damaged]:
    return [measure_face(p, groups) for p in paths]


# --- the cache --------------------------------------------------------------------------------


def _empty(name: str, count: int) -> Array:
    _, dtype, shape = COLUMNS[name]
    return np.zeros((count, *shape), dtype)


# What reading a damaged or foreign archive can raise (zlib for a flipped bit in a member).
_CACHE_ERRORS = (
    OSError,
    MemoryError,
    ValueError,
    KeyError,
    EOFError,
    TypeError,
    AttributeError,
    zipfile.BadZipFile,
    zlib.error,
)
NAMES_MAX_BYTES = 256 << 20


def _member(archive: zipfile.ZipFile, key: str, max_bytes: int) -> Array:
    """One array of the archive, refused before its data is read when its header promises more
    than `max_bytes` (a damaged or hostile file must not make us allocate gigabytes)."""
    with archive.open(f"{key}.npy") as member:
        fmt = np.lib.format
        version = fmt.read_magic(member)  # type: ignore[no-untyped-call]
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read_header(member)  # type: ignore[no-untyped-call]
        if dtype.hasobject or fortran or dtype.itemsize * int(np.prod(shape)) > max_bytes:
            raise ValueError(f"{key} is not what a statistics table holds")
        data = member.read(dtype.itemsize * int(np.prod(shape)) + 1)
        return np.frombuffer(data, dtype, int(np.prod(shape))).reshape(shape)


def _read_cache(folder: Path) -> dict[str, Array] | None:
    """The cached table, or None when there is none or it is not exactly what this version writes
    (each array's size checked before it is read, then its shape and type), so a damaged file is
    measured over, never trusted."""
    path = folder / CACHE_NAME
    if not path.is_file():
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            version = _member(archive, "version", 64)
            if version.shape != () or version.dtype.kind not in "iu" or int(version) != STATS_VERSION:
                return None
            names = _member(archive, "names", NAMES_MAX_BYTES)
            if names.ndim != 1 or names.dtype.kind != "U":
                return None
            count = len(names)
            expected: dict[str, tuple[str, tuple[int, ...]]] = {"signature": ("int64", (count, 4))}
            expected |= {f"valid_{g}": ("bool", (count,)) for g in GROUPS}
            expected |= {name: (dtype, (count, *shape)) for name, (_, dtype, shape) in COLUMNS.items()}
            data = {"names": names}
            for key, (dtype, shape) in expected.items():
                limit = np.dtype(dtype).itemsize * int(np.prod(shape))
                value = _member(archive, key, limit)
                if value.shape != shape or value.dtype != np.dtype(dtype):
                    return None
                data[key] = value
            return data
    except _CACHE_ERRORS:
        return None  # damaged or foreign: measured again, and replaced on save


def _write_cache(folder: Path, names: list[str], signatures: Array, valid: dict[str, Array],
                 columns: dict[str, Array]) -> None:  # fmt: skip
    buffer = io.BytesIO()
    arrays = {f"valid_{g}": valid[g] for g in GROUPS}
    np.savez_compressed(buffer, version=np.array(STATS_VERSION), names=np.array(names, dtype=str),
             signature=signatures, **arrays, **columns)  # fmt: skip
    # A read-only faceset (or a full disk) is still measured; only the next run is slower.
    with contextlib.suppress(OSError, UserError):
        write_bytes_atomic(folder / CACHE_NAME, buffer.getvalue())


def _reuse(cached: dict[str, Array] | None, count: int, signatures: Array) -> dict[str, Array]:
    """Each column at its new length, with cached rows copied where the file is unchanged, and
    per group which rows hold valid values."""
    out = {name: _empty(name, count) for name in COLUMNS}
    out.update({f"valid_{g}": np.zeros(count, bool) for g in GROUPS})
    if cached is None:
        return out
    # By size, modification time and inode, not by name: a sort renames files without changing them.
    at = {tuple(sig): j for j, sig in enumerate(cached["signature"].tolist())}
    rows_new, rows_old = [], []
    for i, sig in enumerate(signatures.tolist()):
        j = at.get(tuple(sig))
        if j is not None:
            rows_new.append(i)
            rows_old.append(j)
    if not rows_new:
        return out
    new, old = np.array(rows_new), np.array(rows_old)
    for key in out:
        if key in cached:
            out[key][new] = cached[key][old]
    return out


# --- the public entry -------------------------------------------------------------------------


def _run_jobs(paths: list[Path], groups: tuple[str, ...], workers: int,
              tick: Callable[[int], None]) -> Iterator[dict[str, Any] | Damaged]:  # fmt: skip
    if workers <= 1 or len(paths) < PARALLEL_FROM:
        for path in paths:
            yield measure_face(path, groups)
            tick(1)
        return
    chunk = max(8, min(64, len(paths) // (workers * 8)))
    chunks = [paths[k : k + chunk] for k in range(0, len(paths), chunk)]
    context = multiprocessing.get_context("spawn")
    with signals_held():
        pool = ProcessPoolExecutor(workers, context, initializer=shield_worker, initargs=(os.getpid(),))
    processes = list((getattr(pool, "_processes", None) or {}).values())
    try:
        for rows in pool.map(_measure_chunk, chunks, [groups] * len(chunks)):
            yield from rows
            tick(len(rows))
        pool.shutdown(wait=True)
    except BrokenProcessPool as exc:
        raise UserError(
            "a worker measuring faces died (out of memory?); run it again with --workers 1"
        ) from exc
    finally:
        processes = list((getattr(pool, "_processes", None) or {}).values()) or processes
        pool.shutdown(wait=False, cancel_futures=True)
        stop_workers(processes)


def faceset_stats(
    folder: Path,
    groups: Iterable[str] = ("meta",),
    workers: int = 2,
    say: Say = lambda _: None,
    tick: Callable[[int, int], None] = lambda done, total: None,
) -> FacesetStats:
    """The statistics of `groups` for every face file in `folder`: cached rows where the file is
    unchanged, measured (in `workers` processes) elsewhere; the cache is then rewritten."""
    wanted = tuple(g for g in GROUPS if g in set(groups) | {"meta"})
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    from faceweave.faceset.moves import settle

    said = settle(folder)
    if said:
        say(f"{folder}: {said}")
    paths, found, damaged = [], [], []
    for path in list_face_files(folder):
        try:
            found.append(_signature(path))
            paths.append(path)
        except OSError as exc:  # a dangling link, or a file gone since the listing
            damaged.append(Damaged(path.name, f"cannot be read ({exc.strerror})"))
    names = [p.name for p in paths]
    signatures = np.array(found, np.int64).reshape(-1, 4)
    table = _reuse(_read_cache(folder), len(names), signatures)
    todo = sorted({i for g in wanted for i in np.flatnonzero(~table[f"valid_{g}"]).tolist()})
    if todo:
        say(f"measuring {len(todo)} of {len(paths)} face(s) ({', '.join(wanted)}) ...")
    done = [0]

    def count(n: int) -> None:
        done[0] += n
        tick(done[0], len(todo))

    unreadable = len(damaged)
    for i, row in zip(todo, _run_jobs([paths[i] for i in todo], wanted, workers, count), strict=True):
        if isinstance(row, Damaged):
            damaged.append(row)
            for g in GROUPS:
                table[f"valid_{g}"][i] = False
            continue
        for key, value in row.items():
            table[key][i] = value
        for g in wanted:
            table[f"valid_{g}"][i] = True
    valid = {g: table.pop(f"valid_{g}") for g in GROUPS}
    keep = np.flatnonzero(np.logical_and.reduce([valid[g] for g in wanted]))
    if todo and len(keep):  # a folder with no face in it is not a faceset: it gets no cache either
        _write_cache(folder, names, signatures, valid, table)
    return FacesetStats(
        folder,
        [names[i] for i in keep],
        {name: table[name][keep] for name, (group, _, _) in COLUMNS.items() if group in wanted},
        damaged,
        len(todo) - (len(damaged) - unreadable),
    )


def check_faceset(stats: FacesetStats, damaged_ok: bool = False) -> None:
    """Refuse, in one sentence, a folder that is not one faceset: no face in it, faces of several
    types, or (unless `damaged_ok`) files that are not valid faces."""
    folder = stats.folder
    if not len(stats):
        what = (f"none of its {len(stats.damaged)} image file(s) is a faceweave aligned face" if stats.damaged
                else "it holds no faceweave aligned face")  # fmt: skip
        raise UserError(f"{folder} is not a faceset: {what}")
    types = sorted(set(stats["face_type"].tolist()))
    if len(types) > 1:
        raise UserError(
            f"{folder} mixes face types ({', '.join(types)}); keep one type per faceset (nothing was moved)"
        )
    if stats.damaged and not damaged_ok:
        first = stats.damaged[0]
        raise UserError(
            f"{folder} holds {len(stats.damaged)} damaged face file(s) ({first.name}: {first.reason}); "
            "`faceweave faceset clean` moves them to _rejected/damaged/ (nothing was moved)"
        )

"""`faceset info`: counts, sizes, face types, pose ranges and frames without faces."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from faceweave.errors import UserError
from faceweave.faceset.moves import REJECTED_DIR, settle
from faceweave.formats.aligned import FaceFileError, list_face_files, read_aligned_face, read_face_meta
from faceweave.formats.summary import SummaryError, read_summary, summary_path

REASON_MAX_CHARS = 200
SHOWN_MAX_CHARS = 80


def shown(text: str, max_chars: int = SHOWN_MAX_CHARS) -> str:
    """`text` safe to print: control and undecodable characters escaped, at most `max_chars` long.

    Names and sources come from files anyone may have made; escape sequences or a megabyte-long
    string must not reach the terminal as they are.
    """
    safe = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text[: max_chars + 1])
    return safe if len(safe) <= max_chars else safe[: max_chars - 3] + "..."


@dataclass(frozen=True)
class Unreadable:
    """A file in the faceset that is not a valid aligned face, and why (one sentence)."""

    name: str
    reason: str


@dataclass
class FacesetInfo:
    folder: Path
    faces: int = 0
    unreadable: list[Unreadable] = field(default_factory=list)
    sizes: Counter[int] = field(default_factory=Counter)
    face_types: Counter[str] = field(default_factory=Counter)
    bridged: int = 0  # faces carried over a detector miss (their mesh re-fitted where the track was)
    tracks: Counter[int] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    yaw: tuple[float, float] = (0.0, 0.0)
    pitch: tuple[float, float] = (0.0, 0.0)
    roll: tuple[float, float] = (0.0, 0.0)
    frames_read: int | None = None
    frames_without_faces: list[int] = field(default_factory=list)
    summary_problem: str = ""  # why extract.json beside the faceset could not be read
    set_aside: Counter[str] = field(default_factory=Counter)  # faces in _rejected/<reason>/


def _span(values: list[float]) -> tuple[float, float]:
    return (min(values), max(values)) if values else (0.0, 0.0)


def faceset_info(folder: Path, decode: bool = False) -> FacesetInfo:
    """Read every face's metadata and image header (and with `decode`, its pixels) and the
    extraction summary beside the folder."""
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    info = FacesetInfo(folder)
    settle(folder)  # a sort a crash cut short is finished first: no face is hidden from the count
    yaws, pitches, rolls = [], [], []
    for path in list_face_files(folder):
        try:
            meta = read_aligned_face(path)[1] if decode else read_face_meta(path, check_size=True)
        except FaceFileError as exc:
            # The message starts with the path; the report names the file on its own.
            reason = str(exc).removeprefix(str(path)).strip()
            info.unreadable.append(Unreadable(path.name, reason))
            continue
        info.faces += 1
        info.sizes[meta.size_px] += 1
        info.face_types[meta.face_type] += 1
        info.bridged += meta.bridged
        info.tracks[meta.track_id] += 1
        info.sources[meta.source] += 1
        yaws.append(meta.pose.yaw)
        pitches.append(meta.pose.pitch)
        rolls.append(meta.pose.roll)
    info.yaw, info.pitch, info.roll = _span(yaws), _span(pitches), _span(rolls)
    rejected = folder / REJECTED_DIR
    for shelf in sorted(rejected.iterdir()) if rejected.is_dir() else []:
        if shelf.is_dir() and list_face_files(shelf):
            info.set_aside[shelf.name] = len(list_face_files(shelf))
    path = summary_path(folder)
    if path.is_file():
        try:
            summary = read_summary(path)
            info.frames_read, info.frames_without_faces = summary.frames, list(summary.frames_without_faces)
        except SummaryError as exc:
            info.summary_problem = str(exc)  # the faces themselves are the record; say what is wrong
    return info

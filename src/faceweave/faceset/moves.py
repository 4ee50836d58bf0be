"""Renaming and moving face files without ever losing one: a journal first, then the renames.

A sort renames every face (and its applied mask in `_masks/`) at once, and new names may be old
names of other faces, so the renames go in two phases through hidden temporary names. The journal
(`_sort_log.json` in the faceset) is written before anything moves and updated between the
phases: a run killed in the first phase is rolled back, one killed in the second is finished, by
the next faceset command (and by `train` and `merge`). The journal keeps the last JOURNAL_KEEP
sorts, so `--undo` can reverse them one by one. A lock file lets one command at a time change a
faceset, a plan that would overwrite a file is refused before anything moves, and stop signals
wait while the files move.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faceweave.atomic import write_text_atomic
from faceweave.childproc import signals_held
from faceweave.errors import UserError
from faceweave.formats.jsonfile import read_json
from faceweave.occlusion.labels import MASKS_DIR

JOURNAL_NAME = "_sort_log.json"
REJECTED_DIR = "_rejected"
JOURNAL_MAX_BYTES = 64 << 20
JOURNAL_KEEP = 20  # sorts --undo can reverse
LOCK_NAME = ".faceweave-lock"
_RANK = re.compile(r"^\d{5,}-")
_TEMP_PREFIX = ".faceweave-moving-"


@dataclass(frozen=True)
class Move:
    """One file to move, as paths relative to the faceset folder."""

    old: str
    new: str


def base_name(name: str) -> str:
    """`name` without the rank an earlier sort put in front of it."""
    return _RANK.sub("", name)


def sorted_name(rank: int, name: str, width: int) -> str:
    """`name` with a rank in front (`00012-000345_0.png`), replacing the rank of an earlier sort."""
    return f"{rank:0{width}d}-{base_name(name)}"


def with_masks(folder: Path, moves: list[Move]) -> list[Move]:
    """`moves` plus the move of each face's applied mask (`_masks/<stem>.png`), where it has one
    (a mask two faces share by stem, `a.png` and `a.jpg`, moves with the first)."""
    out = list(moves)
    claimed = set()
    for move in moves:
        old, new = Path(move.old), Path(move.new)
        mask = Path(old.parent, MASKS_DIR, f"{old.stem}.png")
        if (folder / mask).is_file() and mask not in claimed:
            claimed.add(mask)
            out.append(Move(str(mask), str(Path(new.parent, MASKS_DIR, f"{new.stem}.png"))))
    return out


def is_mask(relative: str) -> bool:
    return MASKS_DIR in Path(relative).parts


def hidden_faces(folder: Path) -> list[Path]:
    """Files a sort cut short left under temporary names (in the faceset and its sub-folders)."""
    found: list[Path] = []
    for sub in (folder, folder / MASKS_DIR, *sorted((folder / REJECTED_DIR).glob("*"))):
        if sub.is_dir():
            found += sorted(p for p in sub.iterdir() if p.name.startswith(_TEMP_PREFIX))
    return found


def _read_journal(folder: Path) -> list[dict[str, Any]]:
    path = folder / JOURNAL_NAME
    if not path.is_file():
        return []
    document = read_json(path, JOURNAL_MAX_BYTES, "a faceweave sort log", "does not exist")
    entries = document.get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(_valid_entry(folder, e) for e in entries):
        hidden = hidden_faces(folder)
        if hidden:
            raise UserError(
                f"{path} is damaged and {len(hidden)} file(s) wait under hidden names "
                f"({hidden[0].name}, ...) from a sort that was cut short; keep the log, and ask for help "
                "(the files are intact)"
            )
        raise UserError(f"{path} is damaged: move it away to sort again (the faces themselves are fine)")
    return entries


def _safe_name(text: object) -> bool:
    """A relative path with no `..`, naming neither the journal, the lock, the cache nor a
    temporary name."""
    if not isinstance(text, str) or not text or "\0" in text:
        return False
    path = Path(text)
    if path.is_absolute() or ".." in path.parts or path.name in ("", ".", JOURNAL_NAME, LOCK_NAME):
        return False
    return not path.name.startswith((_TEMP_PREFIX, ".faceweave-stats"))


def _parents_inside(folder: Path, paths: list[str]) -> bool:
    """No path goes through a symlinked folder out of `folder` (checked once per parent folder:
    a log of a million moves names a handful of folders)."""
    root = folder.resolve()
    return all(
        (folder / parent).resolve().is_relative_to(root) for parent in {str(Path(p).parent) for p in paths}
    )


def _valid_entry(folder: Path, entry: object) -> bool:
    if not isinstance(entry, dict) or entry.get("state") not in ("started", "placing", "done"):
        return False
    moves, tag = entry.get("moves"), entry.get("tag")
    if not isinstance(tag, str) or not re.fullmatch(r"[0-9a-f]{8,32}", tag):
        return False
    if not isinstance(moves, list) or not all(
        isinstance(m, list) and len(m) == 2 and all(_safe_name(p) for p in m) for m in moves
    ):
        return False
    if len({m[0] for m in moves}) != len(moves) or len({m[1] for m in moves}) != len(moves):
        return False
    return _parents_inside(folder, [p for m in moves for p in m])


def _write_journal(folder: Path, entries: list[dict[str, Any]]) -> None:
    kept = entries[-JOURNAL_KEEP:]  # the undo history is bounded; the oldest sorts drop out
    write_text_atomic(folder / JOURNAL_NAME, json.dumps({"version": 1, "entries": kept}, indent=0))


def _rename(folder: Path, old: str, new: str) -> None:
    if os.path.lexists(folder / new):  # never replace a file: the plan said this name was free
        raise FileExistsError(17, "File exists", str(folder / new))
    os.rename(folder / old, folder / new)


def _temp(tag: str, move_index: int, move: Move) -> str:
    """A hidden name no other sort uses (each sort has its own random tag)."""
    return str(Path(move.old).parent / f"{_TEMP_PREFIX}{tag}-{move_index}")


# Per thread: the studio moves faces from several threads, and only the thread that holds a
# folder's lock may enter it again; another thread takes the file lock (and finds it busy).
_local = threading.local()


@contextlib.contextmanager
def folder_lock(folder: Path, wait_s: float = 0.0) -> Iterator[None]:
    """One faceweave command at a time changes a faceset (re-entrant within one thread); stop
    signals wait while it holds the lock, so no rename sequence is cut short. `wait_s`: how long to
    wait for another holder to finish (the studio's short writes queue; a command fails at once)."""
    key = folder.resolve()
    _held: dict[Path, int] = _local.__dict__.setdefault("held", {})
    if _held.get(key):
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    try:
        handle = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        handle = -1  # a read-only faceset: nothing here will move anyway
    try:
        if handle >= 0:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        busy = f"another faceweave command is changing {folder}; wait until it is done"
                        raise UserError(busy) from None
                    time.sleep(0.02)
        _held[key] = 1
        with signals_held():
            yield
    finally:
        _held.pop(key, None)
        if handle >= 0:
            os.close(handle)


def check_plan(folder: Path, moves: list[Move]) -> None:
    """Refuse, before anything moves, a plan that could overwrite or lose a file."""
    sources, targets = [m.old for m in moves], [m.new for m in moves]
    if len(set(sources)) != len(sources) or len(set(targets)) != len(targets):
        raise UserError(f"two faces in {folder} would get the same name; nothing was moved")
    if not all(_safe_name(p) for p in sources + targets) or not _parents_inside(folder, sources + targets):
        raise UserError(f"a move would leave {folder}; nothing was moved")
    known = set(sources)
    for move in moves:
        if not os.path.lexists(folder / move.old):
            raise UserError(f"{folder / move.old} vanished while faceweave worked; nothing was moved")
        if move.new not in known and os.path.lexists(folder / move.new):
            raise UserError(f"{folder / move.new} is in the way; move it away first (nothing was moved)")


def make_parents(folder: Path, moves: list[Move]) -> None:
    """Every destination folder, made before the first move (a file in the way is one sentence)."""
    for parent in sorted({(folder / m.new).parent for m in moves}):
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise UserError(
                f"{parent} is in the way: a file where a folder goes (nothing was moved)"
            ) from None


def settle(folder: Path) -> str:
    """Finish or roll back a cut-short sort (says what it did); refuse while files hide with no log
    to explain them. Every faceset command starts here, so none works on a partial faceset."""
    said = recover(folder)
    hidden = hidden_faces(folder)
    if hidden:
        raise UserError(
            f"{len(hidden)} file(s) in {folder} wait under hidden names ({hidden[0].name}, ...) from a sort "
            f"whose log ({JOURNAL_NAME}) is gone; nothing was moved: rename them back by hand first"
        )
    return said


def apply_moves(folder: Path, moves: list[Move], what: str, undo: bool = False) -> None:
    """Move every file of `moves` (which may swap names among themselves), journalled as `what`.
    Anything that fails part way is rolled back or finished before the error is raised."""
    moves = [m for m in moves if m.old != m.new]
    if not moves:
        return
    with folder_lock(folder):
        settle(folder)
        check_plan(folder, moves)
        make_parents(folder, moves)
        entries = _read_journal(folder)
        tag = secrets.token_hex(6)
        entry: dict[str, Any] = {"what": what, "time": round(time.time(), 1), "state": "started", "tag": tag,
                                 "undo": undo, "moves": [[m.old, m.new] for m in moves]}  # fmt: skip
        _write_journal(folder, [*entries, entry])
        try:
            for k, move in enumerate(moves):
                _rename(folder, move.old, _temp(tag, k, move))
            entry["state"] = "placing"
            _write_journal(folder, [*entries, entry])
            for k, move in enumerate(moves):
                _rename(folder, _temp(tag, k, move), move.new)
            entry["state"] = "done"
            _write_journal(folder, [*entries, entry])
        except BaseException as exc:
            said = recover(folder)
            if isinstance(exc, OSError):
                raise UserError(
                    f"a file could not be moved ({exc.strerror}); {said or 'nothing moved'}"
                ) from exc
            raise


def recover(folder: Path) -> str:
    """Finish or roll back a move a crash cut short; says what it did ('' when nothing was due).
    A finished undo takes the sort it undid out of the log with it."""
    if not (folder / JOURNAL_NAME).is_file():
        return ""
    with folder_lock(folder):
        entries = _read_journal(folder)
        if entries and entries[-1]["state"] == "done" and entries[-1].get("undo"):
            # An undo whose files all moved, killed before it took itself and its sort out.
            _write_journal(folder, entries[:-2])
            return f"finished an interrupted {entries[-1].get('what', 'undo')}"
        if not entries or entries[-1]["state"] == "done":
            return ""
        entry = entries[-1]
        moves = [Move(*m) for m in entry["moves"]]
        forward = entry["state"] == "placing"
        stuck = []
        for k, move in enumerate(moves):
            temp, target = _temp(entry["tag"], k, move), move.new if forward else move.old
            if os.path.lexists(folder / temp):
                if os.path.lexists(folder / target):
                    stuck.append(temp)
                else:
                    os.rename(folder / temp, folder / target)
        if stuck:  # the log stays, so nothing is forgotten; a person has to look
            raise UserError(
                f"{len(stuck)} file(s) in {folder} wait under hidden names ({stuck[0]}, ...) because their "
                "names were taken after an interrupted sort; move the newer files away and run it again"
            )
        if forward:
            entry["state"] = "done"
            _write_journal(folder, entries[:-2] if entry.get("undo") else entries)
        else:
            _write_journal(folder, entries[:-1])
    return f"{'finished' if forward else 'rolled back'} an interrupted {entry.get('what', 'sort')}"


@dataclass(frozen=True)
class Undone:
    what: str = ""  # the sort reversed
    back: int = 0  # faces renamed back
    gone: int = 0  # faces no longer where the sort put them, left alone
    recovered: str = ""  # an interrupted sort was rolled back or finished instead; nothing undone


def undo_last(folder: Path) -> Undone:
    """Reverse the last journalled sort. Faces are moved back by the journal; their masks as they
    are now (a mask applied since the sort goes along). The sort leaves the log only once its undo
    is complete."""
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    with folder_lock(folder):
        recovered = recover(folder)
        if recovered:
            return Undone(recovered=recovered)
        settle(folder)
        entries = _read_journal(folder)
        if not entries:
            raise UserError(f"{folder} has no sort to undo ({JOURNAL_NAME} lists none)")
        entry = entries[-1]
        back = [Move(new, old) for old, new in entry["moves"] if not is_mask(old)]
        present = [m for m in back if os.path.lexists(folder / m.old)]
        sources = {m.old for m in present}
        present = [m for m in present if m.new in sources or not os.path.lexists(folder / m.new)]
        plan = with_masks(folder, present)
        apply_moves(folder, plan, f"undo of {entry.get('what', 'sort')}", undo=True)
        _write_journal(folder, entries[:-1])  # the sort and its undo leave the log together
        for shelf in {(folder / m.old).parent for m in plan} - {folder}:
            with contextlib.suppress(OSError):
                shelf.rmdir()  # an emptied _rejected/best/ (a folder with a user's file stays)
        with contextlib.suppress(OSError):
            (folder / REJECTED_DIR).rmdir()
    return Undone(str(entry.get("what", "sort")), len(present), len(back) - len(present))


def set_aside_faces(folder: Path) -> int:
    """How many face files wait in `folder/_rejected/<reason>/` (training and merge skip them)."""
    root = folder / REJECTED_DIR
    if not root.is_dir():
        return 0
    from faceweave.formats.aligned import list_face_files

    return sum(len(list_face_files(shelf)) for shelf in root.iterdir() if shelf.is_dir())

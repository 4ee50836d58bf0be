"""Renaming and moving face files without ever losing one: a journal first, then the renames.

A sort renames every face (and its applied mask in `_masks/`) at once, and new names may be old
names of other faces, so the renames go in two phases through hidden temporary names. The journal
(`_sort_log.json` in the faceset) is written before anything moves and updated between the
phases: a run killed in the first phase is rolled back, one killed in the second is finished, by
the next faceset command. The journal also keeps every finished sort, so `--undo` can reverse
them one by one. Stop signals wait while the files move.
"""

from __future__ import annotations

import json
import os
import re
import time
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
_RANK = re.compile(r"^\d{5,}-")
_TEMP = ".faceweave-moving-{index}"


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
    """`moves` plus the move of each face's applied mask (`_masks/<stem>.png`), where it has one."""
    out = list(moves)
    for move in moves:
        old, new = Path(move.old), Path(move.new)
        mask = Path(old.parent, MASKS_DIR, f"{old.stem}.png")
        if (folder / mask).is_file():
            out.append(Move(str(mask), str(Path(new.parent, MASKS_DIR, f"{new.stem}.png"))))
    return out


def _read_journal(folder: Path) -> list[dict[str, Any]]:
    path = folder / JOURNAL_NAME
    if not path.is_file():
        return []
    document = read_json(path, JOURNAL_MAX_BYTES, "a faceweave sort log", "does not exist")
    entries = document.get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(_valid_entry(e) for e in entries):
        raise UserError(f"{path} is damaged: move it away to sort again (the faces themselves are fine)")
    return entries


def _safe_relative(text: object) -> bool:
    if not isinstance(text, str) or not text or "\0" in text:
        return False
    path = Path(text)
    return not path.is_absolute() and ".." not in path.parts


def _valid_entry(entry: object) -> bool:
    if not isinstance(entry, dict) or entry.get("state") not in ("started", "placing", "done"):
        return False
    moves = entry.get("moves")
    return isinstance(moves, list) and all(
        isinstance(m, list) and len(m) == 2 and all(_safe_relative(p) for p in m) for m in moves
    )


def _write_journal(folder: Path, entries: list[dict[str, Any]]) -> None:
    write_text_atomic(folder / JOURNAL_NAME, json.dumps({"version": 1, "entries": entries}, indent=0))


def _rename(folder: Path, old: str, new: str) -> None:
    target = folder / new
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(folder / old, target)


def _temp(move_index: int, move: Move) -> str:
    return str(Path(move.old).parent / _TEMP.format(index=move_index))


def _check_free(folder: Path, moves: list[Move]) -> None:
    sources = {m.old for m in moves}
    for move in moves:
        if not (folder / move.old).exists():
            raise UserError(f"{folder / move.old} vanished while faceweave worked; nothing was moved")
        if move.new not in sources and (folder / move.new).exists():
            raise UserError(f"{folder / move.new} is in the way; move it away first (nothing was moved)")


def apply_moves(folder: Path, moves: list[Move], what: str) -> None:
    """Move every file of `moves` (which may swap names among themselves), journalled as `what`."""
    moves = [m for m in moves if m.old != m.new]
    if not moves:
        return
    recover(folder)
    _check_free(folder, moves)
    entries = _read_journal(folder)
    entry: dict[str, Any] = {"what": what, "time": round(time.time(), 1), "state": "started",
                             "moves": [[m.old, m.new] for m in moves]}  # fmt: skip
    with signals_held():
        _write_journal(folder, [*entries, entry])
        for k, move in enumerate(moves):
            _rename(folder, move.old, _temp(k, move))
        entry["state"] = "placing"
        _write_journal(folder, [*entries, entry])
        for k, move in enumerate(moves):
            _rename(folder, _temp(k, move), move.new)
        entry["state"] = "done"
        _write_journal(folder, [*entries, entry])


def recover(folder: Path) -> str:
    """Finish or roll back a move a crash cut short; says what it did ('' when nothing was due)."""
    entries = _read_journal(folder)
    if not entries or entries[-1]["state"] == "done":
        return ""
    entry = entries[-1]
    moves = [Move(*m) for m in entry["moves"]]
    with signals_held():
        forward = entry["state"] == "placing"
        for k, move in enumerate(moves):
            temp = _temp(k, move)
            if (folder / temp).exists():
                _rename(folder, temp, move.new if forward else move.old)
        if forward:
            entry["state"] = "done"
            _write_journal(folder, entries)
        else:
            _write_journal(folder, entries[:-1])
    return f"{'finished' if forward else 'rolled back'} an interrupted {entry.get('what', 'sort')}"


def undo_last(folder: Path) -> tuple[str, int, int]:
    """Reverse the last journalled sort: (what it was, files moved back, files no longer where the
    sort put them and so left alone)."""
    recover(folder)
    entries = _read_journal(folder)
    if not entries:
        raise UserError(f"{folder} has no sort to undo ({JOURNAL_NAME} lists none)")
    entry = entries[-1]
    back = [Move(new, old) for old, new in entry["moves"]]
    present = [m for m in back if (folder / m.old).exists()]
    sources = {m.old for m in present}
    present = [m for m in present if m.new in sources or not (folder / m.new).exists()]
    if present:
        _check_free(folder, present)
        entries_left = entries[:-1]
        _write_journal(folder, entries_left)
        apply_moves(folder, present, f"undo of {entry.get('what', 'sort')}")
        # The undo itself is not a sort a later --undo should reverse.
        _write_journal(folder, entries_left)
    else:
        _write_journal(folder, entries[:-1])
    return str(entry.get("what", "sort")), len(present), len(back) - len(present)


def set_aside_faces(folder: Path) -> int:
    """How many face files wait in `folder/_rejected/<reason>/` (training and merge skip them)."""
    root = folder / REJECTED_DIR
    if not root.is_dir():
        return 0
    from faceweave.formats.aligned import list_face_files

    return sum(len(list_face_files(shelf)) for shelf in root.iterdir() if shelf.is_dir())

"""Write files under a temporary name and rename them into place only when complete.

A crash, Ctrl-C or a full disk then never leaves a file that looks finished but is not, and never
destroys the previous version of the file.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from faceweave.errors import write_error


def temp_path_for(path: Path) -> Path:
    """A hidden sibling of `path` with the same suffix, so that muxers still pick the format."""
    return path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")


def check_parent(path: Path) -> None:
    """Fail early, with the reason, when `path` cannot be created because of its folder."""
    parent = path.parent
    if parent.is_dir():
        return
    missing = not parent.exists() and all(not p.exists() or p.is_dir() for p in parent.parents)
    code = errno.ENOENT if missing else errno.ENOTDIR
    raise write_error(path, OSError(code, os.strerror(code)))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit(temp: Path, final: Path) -> None:
    """fsync `temp`, rename it over `final` and fsync the folder."""
    with open(temp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, final)
    _fsync_dir(final.parent)


@contextlib.contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path`, on any failure it is removed.

    OSErrors raised inside become one-sentence `UserError`s naming `path`.
    """
    path = Path(path)
    check_parent(path)
    temp = temp_path_for(path)
    try:
        yield temp
        commit(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise write_error(path, exc) from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write a small re-creatable file (a frame, a face) under a temporary name, then rename it.

    No fsync: after a crash such a file is either whole or absent, which is all its readers need.
    """
    temp = temp_path_for(path)
    try:
        temp.write_bytes(data)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise write_error(path, exc) from exc


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_target(path) as temp:
        temp.write_text(text, encoding="utf-8")

"""Write files under a temporary name and rename them into place only when complete.

A crash, Ctrl-C or a full disk then never leaves a file that looks finished but is not, and never
destroys the previous version of the file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from faceweave.errors import write_error


def temp_path_for(path: Path) -> Path:
    """A hidden sibling of `path` with the same suffix, so that muxers still pick the format. It
    names this process (so a sweep knows whether its writer still runs) and is unique within it:
    the studio writes from several threads at once."""
    return path.with_name(f".{path.stem}.partial-{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")


def check_parent(path: Path) -> None:
    """Fail early, with the reason, when `path` cannot be created because of its folder."""
    parent = path.parent
    if parent.is_dir():
        return
    missing = not parent.exists() and all(not p.exists() or p.is_dir() for p in parent.parents)
    code = errno.ENOENT if missing else errno.ENOTDIR
    raise write_error(path, OSError(code, os.strerror(code)))


def discard(path: Path) -> None:
    """Remove a temporary file or folder if it is there; never raises, because it runs while another
    error (a read-only or full disk) is being reported, and that error is the one the user needs."""
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


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
        discard(temp)
        raise write_error(path, exc) from exc
    except BaseException:
        discard(temp)
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
        discard(temp)
        raise write_error(path, exc) from exc


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_target(path) as temp:
        temp.write_text(text, encoding="utf-8")


# Hidden names of work in progress, each with the id of the process that owns it: files and folders
# being written (`.NAME.partial-PID.EXT`), and a faceset moved aside while its successor moves in
# (`.NAME.old-PID`).
_WORK_NAME = re.compile(r"^\.(?P<name>.+?)\.(?P<kind>partial|old)-(?P<pid>\d+)")


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def sweep_stale(folder: Path, say: Callable[[str], None] = lambda _: None) -> list[Path]:
    """Remove the unfinished files that a killed run (`kill -9`, a power cut) left in `folder`, and
    put back a folder it had moved aside; work of processes still running is left alone."""
    if not folder.is_dir():
        return []
    removed = []
    for entry in sorted(folder.iterdir()):
        match = _WORK_NAME.match(entry.name)
        if match is None or _running(int(match.group("pid"))):
            continue
        original = folder / match.group("name")
        if match.group("kind") == "old" and not original.exists():
            with contextlib.suppress(OSError):
                os.replace(entry, original)
                say(f"put back {original}, moved aside by an interrupted run (process {match.group('pid')})")
                continue
        discard(entry)
        removed.append(entry)
    if removed:
        names = ", ".join(p.name for p in removed[:3]) + (" ..." if len(removed) > 3 else "")
        say(f"removed {len(removed)} unfinished file(s) that an interrupted run left in {folder}: {names}")
    return removed

"""Error types that map to exit codes.

A `UserError` is anything the user can fix (bad input, bad config, full disk): the CLI prints its
message as one sentence and exits 2. Everything else is a bug and exits 1.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path


class UserError(Exception):
    """Bad input, bad config or an environment problem the user can fix (exit code 2)."""


class ConfigError(UserError):
    """A config file or override names an unknown key, a wrong type or an out-of-range value."""


class MediaError(UserError):
    """A video or image cannot be read or written."""


_WRITE_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EFBIG: "the file size limit was reached",
    errno.EACCES: "permission was denied",
    errno.EPERM: "permission was denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOENT: "its folder does not exist",
    errno.ENOTDIR: "a part of its path is not a folder",
    errno.EISDIR: "it is a folder",
}


_OS_ERROR_IN_TEXT = re.compile(r"os error (\d+)|\[Errno (\d+)\]")
_TEMP_NAME = re.compile(
    r"^\.+(?P<stem>[^.].*?)(?P<temp>\.unsigned|\.partial-\d+(?:-[0-9a-f]+)?)+(?P<suffix>\.[^.]*)?$"
)


def write_error(path: Path, exc: OSError) -> UserError:
    """Turn an OSError raised while writing `path` into one clear sentence."""
    reason = _WRITE_ERRNOS.get(exc.errno or 0, exc.strerror or str(exc))
    return MediaError(f"cannot write {user_path(path)}: {reason}; nothing was left behind under that name")


def os_error_of(exc: BaseException) -> OSError | None:
    """The operating-system error behind `exc`: itself, or one that a library written in Rust or C++
    (safetensors, torch's zip writer, c2pa) reports only in its message, as "os error 28"."""
    if isinstance(exc, OSError) and exc.errno:
        return exc
    match = _OS_ERROR_IN_TEXT.search(str(exc))
    if match is None:
        return None
    code = int(match.group(1) or match.group(2))
    return OSError(code, errno.errorcode.get(code, "error"))


def is_write_failure(exc: OSError) -> bool:
    """Whether the error is about the disk or its permissions (the user's to fix), not a bug."""
    return (exc.errno or 0) in _WRITE_ERRNOS and exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR)


def user_path(name: str | Path) -> Path:
    """The name a user knows for a path: a hidden temporary `.NAME.partial-PID.EXT` is `NAME.EXT`."""
    path = Path(name)
    match = _TEMP_NAME.match(path.name)
    if match is None:
        return path
    return path.with_name(match.group("stem") + (match.group("suffix") or ""))

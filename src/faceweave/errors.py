"""Error types that map to exit codes.

A `UserError` is anything the user can fix (bad input, bad config, full disk): the CLI prints its
message as one sentence and exits 2. Everything else is a bug and exits 1.
"""

from __future__ import annotations

import errno
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


def write_error(path: Path, exc: OSError) -> UserError:
    """Turn an OSError raised while writing `path` into one clear sentence."""
    reason = _WRITE_ERRNOS.get(exc.errno or 0, exc.strerror or str(exc))
    return MediaError(f"cannot write {path}: {reason}; nothing was left behind under that name")

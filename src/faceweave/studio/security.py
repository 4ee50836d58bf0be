"""What stands between a browser and the user's files: a token on every request, a Host header
that names this machine (no DNS rebinding), and no path outside the studio's root, ever."""

from __future__ import annotations

import hmac
import re
import secrets
from pathlib import Path

TOKEN_COOKIE = "faceweave_token"
TOKEN_HEADER = "x-faceweave-token"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Forbidden(Exception):
    """A request the studio refuses: the reason is safe to show."""


def new_token() -> str:
    return secrets.token_urlsafe(24)


def token_ok(given: str | None, token: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), token.encode())


def host_name(header: str) -> str:
    """The host of a Host header, without its port (`[::1]:8000` -> `::1`)."""
    header = header.strip().lower()
    if any(c in header for c in "@/\\ "):  # no browser sends these; a parser trick might
        return ""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_ok(header: str | None, allowed: tuple[str, ...]) -> bool:
    return bool(header) and host_name(header or "") in allowed


def workspace_name(name: str) -> str:
    """A workspace is one folder directly under the root, named plainly."""
    if not NAME.match(name) or name in (".", ".."):
        raise Forbidden(f"{name!r} is not a workspace name (letters, digits, . _ -; 64 at most)")
    return name


def inside(root: Path, relative: str) -> Path:
    """`root/relative` resolved (symlinks followed), refused unless it stays inside `root`."""
    if not relative or "\0" in relative or relative.startswith(("/", "\\")) or "\\" in relative:
        raise Forbidden("that path is not allowed")
    try:
        candidate = (root / relative).resolve()
    except (OSError, RuntimeError):  # a name too long, a symlink loop
        raise Forbidden("that path is not allowed") from None
    if not candidate.is_relative_to(root.resolve()):
        raise Forbidden("that path leaves the studio's folder")
    return candidate

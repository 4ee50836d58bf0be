"""Opening inputs with PyAV and turning its exceptions into one-sentence errors."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.logging

from faceweave.errors import MediaError

# FFmpeg's own log lines (one per damaged macroblock) would bury our one-sentence errors;
# `set_ffmpeg_logging(True)` turns them back on for --verbose.
av.logging.set_level(av.logging.PANIC)


def set_ffmpeg_logging(verbose: bool) -> None:
    av.logging.set_level(av.logging.WARNING if verbose else av.logging.PANIC)


def _short(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[-1].strip().rstrip(".") or type(exc).__name__


def check_readable_file(path: Path) -> None:
    if not path.exists():
        raise MediaError(f"{path} does not exist")
    if path.is_dir():
        raise MediaError(f"{path} is a folder, not a video file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path} is empty (0 bytes), not a video")


def open_input(path: Path) -> av.container.InputContainer:
    """Open a media file for reading; raise MediaError when it is missing, unreadable or not video."""
    check_readable_file(path)
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise MediaError(
            f"{path} is not a video FFmpeg can read ({_short(exc)}); it may be corrupt or truncated"
        ) from exc
    if not container.streams.video:
        container.close()
        raise MediaError(f"{path} has no video stream")
    return container


def seconds(value: int | None, time_base: Fraction | None) -> float:
    """A stream timestamp in seconds; 0 when the container leaves it unset."""
    if value is None or time_base is None:
        return 0.0
    return float(value * time_base)


def short_reason(exc: BaseException) -> str:
    return _short(exc)

"""Opening inputs with PyAV and turning its exceptions into one-sentence errors."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.container

from faceweave.errors import MediaError

# PyAV's default (no log callback) is kept on purpose: with a Python log callback installed,
# FFmpeg's decoder threads can deadlock against the GIL when a damaged stream is closed.


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
            f"{path} is not a video FFmpeg can read ({short_reason(exc)}); it may be corrupt or truncated"
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
    """FFmpeg's reason without the errno and file name it repeats."""
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[-1].strip().rstrip(".") or type(exc).__name__

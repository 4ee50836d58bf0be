"""DeepFaceLab's video tools: a video to numbered frames (`frames`), frames to a video (`video`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2

from faceweave.atomic import write_bytes_atomic
from faceweave.config import Config
from faceweave.errors import MediaError, UserError, write_error
from faceweave.media import VideoWriter, open_frames, probe_video
from faceweave.media.encode import EncodeReport
from faceweave.records import ImageBGR

Tick = Callable[[], None]


@dataclass(frozen=True)
class FrameSelection:
    """Which frames `frames` keeps: a time window, an optional target rate, every n-th."""

    start_s: float = 0.0
    end_s: float | None = None
    fps: float | None = None
    every_nth: int = 1

    def __post_init__(self) -> None:
        if self.every_nth < 1:
            raise UserError(f"--every-nth must be 1 or more, got {self.every_nth}")
        if self.fps is not None and self.fps <= 0:
            raise UserError(f"--fps must be above 0, got {self.fps}")
        if self.start_s < 0:
            raise UserError(f"--start must be 0 or more seconds, got {self.start_s}")
        if self.end_s is not None and self.end_s <= self.start_s:
            raise UserError(f"--end {self.end_s} is not after --start {self.start_s}: no frame would be kept")


class FrameSelector:
    """Stateful filter over (pts_s) in display order; with `fps`, keeps the first frame per slot."""

    def __init__(self, selection: FrameSelection) -> None:
        self.selection = selection
        self._seen = 0
        self._next_slot_s = selection.start_s

    def keep(self, pts_s: float) -> bool:
        sel = self.selection
        if pts_s < sel.start_s - 1e-6 or (sel.end_s is not None and pts_s >= sel.end_s):
            return False
        if sel.fps is not None:
            if pts_s < self._next_slot_s - 1e-6:
                return False
            slots = int((pts_s - sel.start_s) * sel.fps + 1e-6) + 1
            self._next_slot_s = sel.start_s + slots / sel.fps
        self._seen += 1
        return (self._seen - 1) % sel.every_nth == 0


@dataclass(frozen=True)
class FramesReport:
    out_dir: Path
    written: int
    decoded: int
    skipped: int
    ended_early: bool


def encode_image(image: ImageBGR, fmt: str, config: Config) -> bytes:
    if fmt == "jpg":
        params = [cv2.IMWRITE_JPEG_QUALITY, config.frames.jpeg_quality]
    else:
        params = [cv2.IMWRITE_PNG_COMPRESSION, config.frames.png_compression]
    ok, buffer = cv2.imencode(f".{fmt}", image, params)
    if not ok:
        raise MediaError(f"OpenCV could not encode a {fmt} image")
    return buffer.tobytes()


def run_frames(
    config: Config, video: Path, out_dir: Path, selection: FrameSelection, tick: Tick | None = None
) -> FramesReport:
    """Decode `video` and write the selected frames as <frame index>.png|jpg into `out_dir`."""
    source = open_frames(video, on_error=config.decode.on_error,
                         image_fps=Fraction(config.decode.image_fps))  # fmt: skip
    length = getattr(getattr(source, "info", None), "duration_s", None)
    if length and selection.start_s >= length:
        raise UserError(f"--start {selection.start_s:g} is at or past the end of {video} ({length:.2f} s); "
                        "no frame would be written")  # fmt: skip
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(out_dir, exc) from exc
    selector, written, fmt = FrameSelector(selection), 0, config.frames.format
    for frame in source:
        if tick is not None:
            tick()
        if selection.end_s is not None and frame.pts_s >= selection.end_s:
            break
        if selector.keep(frame.pts_s):
            data = encode_image(frame.image_bgr_u8, fmt, config)
            write_bytes_atomic(out_dir / f"{frame.index:06d}.{fmt}", data)
            written += 1
    report = source.report
    return FramesReport(out_dir, written, report.frames, report.skipped, report.ended_early)


@dataclass(frozen=True)
class VideoReport:
    encode: EncodeReport
    skipped: int
    fps: Fraction


def video_fps(config: Config, fps: float | None, audio_from: Path | None) -> Fraction:
    """An explicit rate, else the audio reference's rate (DeepFaceLab's habit), else image_fps."""
    if fps is not None:
        if fps <= 0:
            raise UserError(f"--fps must be above 0, got {fps}")
        return Fraction(fps).limit_denominator(1001)
    if audio_from is not None:
        return probe_video(audio_from).fps
    return Fraction(config.decode.image_fps).limit_denominator(1001)


def run_video(
    config: Config,
    frames_in: Path,
    out: Path,
    audio_from: Path | None = None,
    fps: float | None = None,
    tick: Tick | None = None,
) -> VideoReport:
    """Encode a folder of frames (or re-encode a video) to H.264 MP4 with the reference's audio."""
    rate = video_fps(config, fps, audio_from)
    source = open_frames(frames_in, on_error=config.decode.on_error,
                         image_fps=rate)  # fmt: skip
    settings = config.video.encode_settings()
    # A video keeps its own (maybe variable) timing unless a new rate is asked for; an image
    # folder is timed by file index, so an unreadable file holds the previous frame, not the sound.
    retime = not frames_in.is_dir() and fps is not None
    with VideoWriter(out, fps=rate, settings=settings, audio_from=audio_from) as writer:
        for frame in source:
            writer.write(frame.image_bgr_u8, None if retime else frame.pts_s)
            if tick is not None:
                tick()
        encoded = writer.close()
    return VideoReport(encoded, source.report.skipped, rate)

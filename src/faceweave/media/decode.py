"""Streaming decode of a video file or an image folder into upright BGR frames."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal, Protocol

import av
import av.video.stream
import cv2
import numpy as np

from faceweave.errors import MediaError
from faceweave.media._av import open_input, short_reason
from faceweave.media.probe import normalise_rotation, probe_video
from faceweave.records import Frame, ImageBGR, VideoInfo, as_image

OnError = Literal["stop", "skip"]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

_ROTATE_CCW = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}


@dataclass
class DecodeReport:
    """What happened while decoding: frames delivered, damaged frames skipped, early end."""

    frames: int = 0
    skipped: int = 0
    skipped_names: list[str] = field(default_factory=list)
    ended_early: bool = False


class FrameSource(Protocol):
    """An iterable of frames with what is known about them up front and a report afterwards."""

    info: VideoInfo
    report: DecodeReport

    def __iter__(self) -> Iterator[Frame]: ...


def upright(image_bgr_u8: ImageBGR, rotation_deg: int) -> ImageBGR:
    """Apply a counter-clockwise display rotation so that the picture is shown as intended."""
    code = _ROTATE_CCW.get(normalise_rotation(rotation_deg))
    return image_bgr_u8 if code is None else as_image(np.ascontiguousarray(cv2.rotate(image_bgr_u8, code)))


def natural_key(name: str) -> list[int | str]:
    """Sort key that orders frame2 before frame10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_images(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: natural_key(p.name))


def to_bgr(frame: av.VideoFrame) -> ImageBGR:
    """BGR pixels of a decoded frame. Limited-range 4:2:0, the usual H.264 case, is converted by
    OpenCV, whose conversion the encoder inverts exactly: swscale's fast path, as PyAV calls it,
    darkened every decode-encode generation by about 2 levels (measured on our clips), so frames
    passing through a merge unchanged would not have come out unchanged."""
    even = frame.width % 2 == 0 and frame.height % 2 == 0
    if frame.format.name == "yuv420p" and even and frame.color_range != 2:  # 2: full (JPEG) range
        return as_image(cv2.cvtColor(frame.to_ndarray(format="yuv420p"), cv2.COLOR_YUV2BGR_I420))
    return as_image(frame.to_ndarray(format="bgr24"))


def count_frames(path: Path) -> int:
    """Frames a video (readable packets) or an image folder (image files) holds, for progress bars."""
    path = Path(path)
    return len(list_images(path)) if path.is_dir() else probe_video(path).frame_count


class VideoFrames:
    """Frames of a video file, decoded one packet at a time (never the whole video in memory)."""

    def __init__(self, path: Path, on_error: OnError = "stop") -> None:
        self.path = Path(path)
        self.info = probe_video(self.path)
        self.on_error = on_error
        self.report = DecodeReport()

    def _damaged(self, exc: Exception, index: int) -> None:
        if self.on_error == "stop":
            raise MediaError(
                f"{self.path} is damaged: decoding failed at frame {index} ({short_reason(exc)}); "
                "pass --set decode.on_error=skip to skip damaged frames"
            ) from exc
        self.report.skipped += 1

    def __iter__(self) -> Iterator[Frame]:
        container = open_input(self.path)
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            start = self.info.start_s
            packets = container.demux(stream)
            while True:
                try:
                    packet = next(packets)
                    decoded = packet.decode()
                except StopIteration:
                    break
                except av.error.FFmpegError as exc:
                    self._damaged(exc, self.report.frames)
                    continue
                yield from self._frames(decoded, start)
            yield from self._frames(_flush(stream), start)
        finally:
            container.close()
        expected = max(self.info.frame_count, self.info.declared_frames)
        self.report.ended_early = self.report.frames + self.report.skipped < expected
        if self.report.ended_early and self.on_error == "stop":
            raise MediaError(
                f"{self.path} is truncated: it ends after frame {self.report.frames} of {expected}; "
                "pass --set decode.on_error=skip to keep the frames it has"
            )

    def _frames(self, decoded: list[av.VideoFrame], start: float) -> Iterator[Frame]:
        for frame in decoded:
            image = upright(to_bgr(frame), frame.rotation)
            yield Frame(self.report.frames, (frame.time or 0.0) - start, image)
            self.report.frames += 1


def _flush(stream: av.video.stream.VideoStream) -> list[av.VideoFrame]:
    """Frames still inside the decoder when the demuxer stopped early (a cut-off file)."""
    try:
        return list(stream.codec_context.decode(None))
    except (av.error.FFmpegError, EOFError):
        return []  # already flushed by the demuxer's final empty packet, or nothing left


class ImageFolderFrames:
    """Frames from a folder of images, in natural numeric order, at a given frame rate."""

    def __init__(self, folder: Path, fps: Fraction, on_error: OnError = "skip") -> None:
        self.folder = Path(folder)
        self.files = list_images(self.folder)
        if not self.files:
            raise MediaError(f"{self.folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        first = self._read_first()
        height, width = first.shape[:2]
        self.on_error = on_error
        self.report = DecodeReport()
        self.info = VideoInfo(
            path=self.folder, container="images", codec=self.files[0].suffix.lstrip(".").lower(),
            width=width, height=height, coded_width=width, coded_height=height, rotation_deg=0,
            fps=fps, is_vfr=False, frame_count=len(self.files), declared_frames=len(self.files),
            duration_s=len(self.files) / float(fps), start_s=0.0, audio=(),
        )  # fmt: skip

    def _read_first(self) -> ImageBGR:
        for path in self.files:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                return as_image(image)
        raise MediaError(f"{self.folder} holds no readable image")

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.files):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                if self.on_error == "stop":
                    raise MediaError(f"{path} cannot be read as an image")
                self.report.skipped += 1
                self.report.skipped_names.append(path.name)
                continue
            yield Frame(index, index / float(self.info.fps), as_image(image))
            self.report.frames += 1


def open_frames(
    path: Path, *, on_error: str = "stop", image_fps: Fraction = Fraction(25)
) -> VideoFrames | ImageFolderFrames:
    """A frame source for a video file or a folder of images.

    In a folder, an unreadable image is always skipped and counted (photo folders often hold a
    stray file); `on_error` governs damage inside a video stream.
    """
    path = Path(path)
    if on_error not in ("stop", "skip"):
        raise ValueError(f"on_error must be stop or skip, got {on_error!r}")
    if path.is_dir():
        return ImageFolderFrames(path, image_fps, "skip")
    return VideoFrames(path, "stop" if on_error == "stop" else "skip")

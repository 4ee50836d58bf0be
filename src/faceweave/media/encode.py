"""Streaming H.264 MP4 encoder with audio from a reference video, written atomically."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import av.container
import av.video.stream
import cv2
import numpy as np
import numpy.typing as npt

from faceweave.atomic import check_parent, commit, discard, temp_path_for
from faceweave.errors import MediaError, write_error
from faceweave.media.audio import AudioFeed, AudioMode, CopyFeed, reference_feed, samples_feed
from faceweave.records import ImageBGR, as_image

# Fine enough for any real frame rate, so variable-frame-rate timestamps survive re-encoding.
VIDEO_TIME_BASE = Fraction(1, 90000)


@dataclass(frozen=True)
class EncodeSettings:
    crf: int = 18
    preset: str = "medium"
    audio: AudioMode = "auto"


@dataclass(frozen=True)
class EncodeReport:
    path: Path
    frames: int
    width: int
    height: int
    padded: bool
    audio: str  # "copied", "re-encoded", "generated" or "none"


def even_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p needs even sides; odd ones are padded by one replicated row or column."""
    return width + width % 2, height + height % 2


def pad_to(image: ImageBGR, width: int, height: int) -> ImageBGR:
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    return as_image(cv2.copyMakeBorder(image, 0, height - h, 0, width - w, cv2.BORDER_REPLICATE))


def x264_options(settings: EncodeSettings) -> dict[str, str]:
    return {"crf": str(settings.crf), "preset": settings.preset}


class VideoWriter:
    """Write BGR frames to an MP4 under a temporary name; `close()` renames it into place.

    Audio comes from `audio_from` (a reference video, copied or re-encoded per `settings.audio`)
    or from `audio_samples` ((channels, n) float32 in [-1, 1] at `audio_rate`). Leaving the `with`
    block through an exception removes the temporary file, so no partial output looks complete.
    """

    def __init__(
        self,
        path: Path,
        *,
        fps: Fraction,
        settings: EncodeSettings = EncodeSettings(),
        audio_from: Path | None = None,
        audio_samples: npt.NDArray[np.float32] | None = None,
        audio_rate: int = 48000,
        rotation_deg: int = 0,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.fps = Fraction(fps)
        self.settings = settings
        self._temp = temp_path_for(self.path)
        self._rotation = rotation_deg
        self._frames = 0
        self._last_pts = -1
        self._size: tuple[int, int] | None = None
        self._padded = False
        self._stream: av.video.stream.VideoStream | None = None
        self._audio_label = "none"
        check_parent(self.path)
        try:
            # faststart puts the index first: browsers can stream it, and a cut-off copy still opens.
            self._out = av.open(str(self._temp), mode="w", format="mp4", options={"movflags": "+faststart"})
        except OSError as exc:
            raise write_error(self.path, exc) from exc
        self._out.metadata["encoder"] = "faceweave"
        for key, value in (tags or {}).items():
            self._out.metadata[key] = value
        self._audio_args = (audio_from, audio_samples, audio_rate)
        self._feed: AudioFeed | None = None

    def _make_feed(
        self, reference: Path | None, samples: npt.NDArray[np.float32] | None, rate: int
    ) -> AudioFeed | None:
        try:
            if samples is not None:
                self._audio_label = "generated"
                return samples_feed(samples, rate, self._out)
            if reference is None:
                return None
            feed = reference_feed(reference, self._out, self.settings.audio)
        except BaseException:
            self.abort()
            raise
        if feed is not None:
            self._audio_label = "copied" if isinstance(feed, CopyFeed) else "re-encoded"
        return feed

    def _open_stream(self, width: int, height: int) -> av.video.stream.VideoStream:
        w, h = even_size(width, height)
        self._size, self._padded = (w, h), (w, h) != (width, height)
        stream = self._out.add_stream("libx264", rate=self.fps, options=x264_options(self.settings))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.time_base = VIDEO_TIME_BASE
        if self._rotation:
            stream.set_display_rotation(self._rotation)
        # Audio is added after video so that stream 0 is the picture, as players expect.
        self._feed = self._make_feed(*self._audio_args)
        return stream

    def write(self, image_bgr_u8: ImageBGR, pts_s: float | None = None) -> None:
        """Append one frame; `pts_s` keeps a source's own (maybe variable) timing, else index/fps."""
        if self._stream is None:
            self._stream = self._open_stream(image_bgr_u8.shape[1], image_bgr_u8.shape[0])
        assert self._size is not None
        w, h = self._size
        ih, iw = image_bgr_u8.shape[:2]
        if (iw + iw % 2, ih + ih % 2) != (w, h):
            raise MediaError(
                f"frame {self._frames} is {iw}x{ih} but the video is {w}x{h}; all frames of a video "
                "must have one size"
            )
        seconds = self._frames / float(self.fps) if pts_s is None else pts_s
        pts = max(round(seconds / VIDEO_TIME_BASE), self._last_pts + 1)
        # The exact inverse of the decoder's conversion (see decode.to_bgr); sizes are even here.
        planes = np.asarray(cv2.cvtColor(pad_to(image_bgr_u8, w, h), cv2.COLOR_BGR2YUV_I420), np.uint8)
        frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        frame.pts, frame.time_base = pts, VIDEO_TIME_BASE
        self._last_pts = pts
        self._guard(lambda: self._mux_video(frame))
        self._frames += 1
        if self._feed is not None:
            feed = self._feed
            self._guard(lambda: feed.pump(self._out, seconds))

    def _mux_video(self, frame: av.VideoFrame | None) -> None:
        assert self._stream is not None
        for packet in self._stream.encode(frame):
            self._out.mux(packet)

    def _guard(self, action: Callable[[], object]) -> None:
        """Run a muxing action; an OSError (full disk, say) aborts the file and becomes one sentence."""
        try:
            action()
        except OSError as exc:
            self.abort()
            raise write_error(self.path, exc) from exc

    def end_time_s(self) -> float:
        return self._last_pts * float(VIDEO_TIME_BASE) + 1.0 / float(self.fps)

    def close(self) -> EncodeReport:
        """Flush, finish the audio up to the end of the last frame, and rename into place."""
        if self._stream is None:
            self.abort()
            raise MediaError(f"no frame was written, so {self.path} was not created")
        feed = self._feed
        self._guard(lambda: self._mux_video(None))
        if feed is not None:
            self._guard(lambda: feed.pump(self._out, self.end_time_s()))
            feed.close()
        self._guard(self._out.close)
        try:
            commit(self._temp, self.path)
        except OSError as exc:
            self.abort()
            raise write_error(self.path, exc) from exc
        w, h = self._size or (0, 0)
        return EncodeReport(self.path, self._frames, w, h, self._padded, self._audio_label)

    def abort(self) -> None:
        """Drop everything written so far; the final path is never created."""
        if self._feed is not None:
            self._feed.close()
            self._feed = None
        # The file is being thrown away; a failure to write its trailer does not matter.
        with contextlib.suppress(OSError, av.error.FFmpegError, ValueError):
            self._out.close()
        discard(self._temp)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()

"""Probe a video: size, rotation, frame rate (constant or variable), frame count, audio streams."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.video.stream

from faceweave.errors import MediaError
from faceweave.media._av import open_input, seconds, short_reason
from faceweave.records import AudioInfo, VideoInfo

# Frame-to-frame gaps that differ by more than this fraction mark a variable-frame-rate video.
_VFR_TOLERANCE = 0.02


def normalise_rotation(degrees: float) -> int:
    """Round a display-matrix angle to 0, 90, 180 or 270 (counter-clockwise)."""
    return round(degrees / 90.0) % 4 * 90


def _packet_times(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> list[float]:
    """Presentation times of every video packet, in display order, read without decoding."""
    tb = stream.time_base or Fraction(1, 90000)
    times: list[float] = []
    try:
        for packet in container.demux(stream):
            if packet.pts is not None and packet.size > 0:
                times.append(float(packet.pts * tb))
    except av.error.FFmpegError:
        pass  # a damaged tail: the probe reports what could be read; decode reports the damage
    return sorted(times)


def rate_from_times(times: list[float]) -> tuple[float, bool]:
    """(mean frame interval in seconds, is variable frame rate) from sorted presentation times."""
    gaps = [b - a for a, b in itertools.pairwise(times) if b > a]
    if not gaps:
        return 0.0, False
    mean = sum(gaps) / len(gaps)
    is_vfr = (max(gaps) - min(gaps)) > _VFR_TOLERANCE * mean + 1e-4
    return mean, is_vfr


def _first_rotation(container: av.container.InputContainer, path: Path) -> tuple[int, int, int]:
    stream = container.streams.video[0]
    container.seek(0)
    try:
        for frame in container.decode(stream):
            return normalise_rotation(frame.rotation), frame.width, frame.height
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path} cannot be decoded ({short_reason(exc)})") from exc
    raise MediaError(f"{path} has a video stream but no decodable frame")


def _audio_infos(container: av.container.InputContainer) -> tuple[AudioInfo, ...]:
    infos = []
    for stream in container.streams.audio:
        duration = seconds(stream.duration, stream.time_base) if stream.duration else None
        infos.append(
            AudioInfo(
                index=stream.index,
                codec=stream.codec_context.name,
                sample_rate=stream.codec_context.sample_rate or 0,
                channels=stream.codec_context.channels or 0,
                duration_s=duration,
            )
        )
    return tuple(infos)


def probe_video(path: Path) -> VideoInfo:
    """Read a video's properties; demuxes every packet (cheap) but decodes only the first frame."""
    path = Path(path)
    container = open_input(path)
    try:
        stream = container.streams.video[0]
        times = _packet_times(container, stream)
        rotation, coded_w, coded_h = _first_rotation(container, path)
        interval, is_vfr = rate_from_times(times)
        declared = stream.average_rate or stream.guessed_rate
        if is_vfr or not declared:
            fps = Fraction(1 / interval).limit_denominator(1001) if interval else Fraction(25)
        else:
            fps = Fraction(declared)
        start_s = seconds(stream.start_time, stream.time_base)
        duration = (times[-1] - times[0] + interval) if times else 0.0
        swap = rotation in (90, 270)
        return VideoInfo(
            path=path,
            container=container.format.name,
            codec=stream.codec_context.name,
            width=coded_h if swap else coded_w,
            height=coded_w if swap else coded_h,
            coded_width=coded_w,
            coded_height=coded_h,
            rotation_deg=rotation,
            fps=fps,
            is_vfr=is_vfr,
            frame_count=len(times),
            declared_frames=stream.frames or 0,
            duration_s=duration,
            start_s=start_s,
            audio=_audio_infos(container),
        )
    finally:
        container.close()

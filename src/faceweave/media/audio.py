"""Audio for an output MP4: packets copied from a reference video, or re-encoded to AAC.

A feed is pumped as video frames are written, so audio and video stay interleaved in the file
and nothing is held in memory. Times are shifted so that the reference's first video frame is t=0.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import av.audio.stream
import av.container
import numpy as np
import numpy.typing as npt

from faceweave.media._av import open_input, seconds

AudioMode = Literal["auto", "aac", "none"]

# Codecs the MP4 muxer accepts as they are; anything else is re-encoded to AAC.
MP4_AUDIO_CODECS = frozenset({"aac", "mp3", "alac", "flac", "opus", "ac3", "eac3"})
AAC_BITRATE = 192_000


class AudioFeed:
    """Muxes audio packets into `output` up to a given time; subclasses say where packets come from."""

    def __init__(self) -> None:
        self._pending: av.Packet[Any] | None = None
        self._packets: Iterator[av.Packet[Any]] = iter(())

    def pump(self, output: av.container.OutputContainer, until_s: float) -> None:
        """Mux every packet that starts before `until_s`."""
        while True:
            packet = self._pending or next(self._packets, None)
            self._pending = None
            if packet is None:
                return
            timed = packet.pts is not None and packet.time_base is not None
            if timed and seconds(packet.pts, packet.time_base) >= until_s:
                self._pending = packet
                return
            output.mux(packet)

    def close(self) -> None:
        """Release the input; called once after the last pump."""


class CopyFeed(AudioFeed):
    """Copy the compressed packets of the reference's first audio stream (no quality loss)."""

    def __init__(self, reference: Path, output: av.container.OutputContainer) -> None:
        super().__init__()
        self._input = open_input(reference)
        in_stream = self._input.streams.audio[0]
        self._offset = _video_start(self._input)
        self.stream = output.add_stream_from_template(in_stream)
        self._packets = self._shifted(in_stream)

    def _shifted(self, in_stream: av.audio.stream.AudioStream) -> Iterator[av.Packet[Any]]:
        for packet in self._input.demux(in_stream):
            if packet.pts is None or packet.size == 0:
                continue
            shift = round(self._offset / packet.time_base)
            packet.pts -= shift
            packet.dts = packet.pts if packet.dts is None else packet.dts - shift
            if packet.pts < 0:
                continue  # audio before the first video frame has no picture to go with
            packet.stream = self.stream
            yield packet

    def close(self) -> None:
        self._input.close()


class EncodeFeed(AudioFeed):
    """Encode PCM frames (decoded from the reference, or generated) to AAC."""

    def __init__(
        self,
        output: av.container.OutputContainer,
        frames: Iterator[av.AudioFrame],
        sample_rate: int,
        layout: str,
        closer: av.container.InputContainer | None = None,
    ) -> None:
        super().__init__()
        self.stream = output.add_stream("aac", rate=sample_rate, layout=layout)
        self.stream.bit_rate = AAC_BITRATE
        self._closer = closer
        self._packets = self._encode(frames)

    def _encode(self, frames: Iterator[av.AudioFrame]) -> Iterator[av.Packet[Any]]:
        for frame in frames:
            yield from self.stream.encode(frame)
        yield from self.stream.encode(None)

    def close(self) -> None:
        if self._closer is not None:
            self._closer.close()


def _video_start(container: av.container.InputContainer) -> float:
    if not container.streams.video:
        return 0.0
    stream = container.streams.video[0]
    return seconds(stream.start_time, stream.time_base)


def _decoded_frames(container: av.container.InputContainer) -> Iterator[av.AudioFrame]:
    """Decoded PCM of the first audio stream, shifted to the first video frame and re-timed."""
    stream = container.streams.audio[0]
    offset = _video_start(container)
    rate = stream.codec_context.sample_rate
    for frame in container.decode(stream):
        start = round(((frame.time or 0.0) - offset) * rate)
        if start + frame.samples <= 0:
            continue
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        yield frame


def samples_to_frames(
    samples_f32: npt.NDArray[np.float32], sample_rate: int, chunk: int = 1024
) -> Iterator[av.AudioFrame]:
    """Planar float samples of shape (channels, n) as AudioFrames."""
    layout = "mono" if samples_f32.shape[0] == 1 else "stereo"
    for start in range(0, samples_f32.shape[1], chunk):
        block = np.ascontiguousarray(samples_f32[:, start : start + chunk], dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
        frame.sample_rate = sample_rate
        frame.pts = start
        frame.time_base = Fraction(1, sample_rate)
        yield frame


def reference_feed(
    reference: Path, output: av.container.OutputContainer, mode: AudioMode
) -> AudioFeed | None:
    """The audio feed for `mode` from the reference's first audio stream, or None when it has none."""
    if mode == "none":
        return None
    probe = open_input(reference)
    try:
        if not probe.streams.audio:
            return None
        codec = probe.streams.audio[0].codec_context.name
    finally:
        probe.close()
    if mode == "auto" and codec in MP4_AUDIO_CODECS:
        return CopyFeed(reference, output)
    container = open_input(reference)
    ctx = container.streams.audio[0].codec_context
    layout = "mono" if ctx.channels == 1 else "stereo"
    return EncodeFeed(output, _decoded_frames(container), ctx.sample_rate, layout, container)


def samples_feed(
    samples_f32: npt.NDArray[np.float32], sample_rate: int, output: av.container.OutputContainer
) -> AudioFeed:
    layout = "mono" if samples_f32.shape[0] == 1 else "stereo"
    return EncodeFeed(output, samples_to_frames(samples_f32, sample_rate), sample_rate, layout)

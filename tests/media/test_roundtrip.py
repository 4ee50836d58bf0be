"""Video in and out: probe, decode, encode, audio copy and sync, VFR, rotation, odd sizes."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from faceweave.errors import MediaError
from faceweave.media import EncodeSettings, VideoWriter, open_frames, probe_video
from faceweave.media.synth import ClipSpec, frame_times, noise_texture, pattern_frame
from tests.conftest import FLASH_S, FPS
from tests.helpers import audio_duration_s, beep_onset_s

FRAME_S = 1.0 / FPS


def flash_time_s(path: Path) -> float:
    """Timestamp of the first (nearly) white frame."""
    for frame in open_frames(path):
        if frame.image_bgr_u8.mean() > 240:
            return frame.pts_s
    raise AssertionError("no white frame")


def reencode(src: Path, out: Path, settings: EncodeSettings = EncodeSettings(preset="veryfast")) -> None:
    source = open_frames(src)
    with VideoWriter(out, fps=source.info.fps, settings=settings, audio_from=src) as writer:
        for frame in source:
            writer.write(frame.image_bgr_u8, frame.pts_s)
        writer.close()


def test_probe_reports_the_generated_clip(clip: Path) -> None:
    info = probe_video(clip)
    assert (info.width, info.height, info.rotation_deg) == (320, 240, 0)
    assert info.fps == Fraction(FPS) and not info.is_vfr
    assert info.frame_count == info.declared_frames == 75
    assert info.duration_s == pytest.approx(3.0, abs=1e-3)
    assert len(info.audio) == 1 and info.audio[0].codec == "aac"


def test_decode_gives_every_frame_with_its_timestamp(clip: Path) -> None:
    frames = list(open_frames(clip))
    assert [f.index for f in frames] == list(range(75))
    assert [f.pts_s for f in frames] == pytest.approx([i / FPS for i in range(75)], abs=1e-4)
    assert frames[0].image_bgr_u8.shape == (240, 320, 3) and frames[0].image_bgr_u8.dtype == np.uint8


def test_reencode_keeps_frames_timestamps_audio_and_sync(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    reencode(clip, out)
    before, after = probe_video(clip), probe_video(out)
    assert after.frame_count == before.frame_count
    assert [f.pts_s for f in open_frames(out)] == pytest.approx([i / FPS for i in range(75)], abs=1e-4)
    assert audio_duration_s(out) == pytest.approx(after.duration_s, abs=FRAME_S)
    # The white frame and the beep were made at the same instant; they must still coincide.
    assert flash_time_s(out) == pytest.approx(FLASH_S[0], abs=FRAME_S)
    assert beep_onset_s(out) == pytest.approx(flash_time_s(out), abs=FRAME_S)


def test_audio_reencoded_to_aac_stays_in_sync(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "aac.mp4"
    reencode(clip, out, EncodeSettings(preset="ultrafast", audio="aac"))
    assert beep_onset_s(out) == pytest.approx(flash_time_s(out), abs=FRAME_S)
    assert audio_duration_s(out) == pytest.approx(3.0, abs=FRAME_S)


def test_audio_mp4_cannot_hold_is_reencoded(tmp_path: Path) -> None:
    """A Matroska file with PCM audio (MP4 cannot carry it as is) becomes AAC, in sync."""
    ref = tmp_path / "pcm.mkv"
    rate, seconds = 48000, 2.0
    with av.open(str(ref), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("pcm_s16le", rate=rate, layout="mono")
        t = np.arange(int(rate * seconds)) / rate
        beep = ((t >= 1.0) & (t < 1.04)) * 0.8 * np.sin(2 * np.pi * 1000 * t)
        pcm = (beep * 32767).astype(np.int16)[None, :]
        for start in range(0, pcm.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, start : start + 1024]),
                                               format="s16", layout="mono")  # fmt: skip
            frame.sample_rate, frame.pts = rate, start
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
        for i in range(int(FPS * seconds)):
            image = np.full((48, 64, 3), 255 if i == FPS else 0, np.uint8)
            picture = av.VideoFrame.from_ndarray(image, format="bgr24")
            picture.pts = i
            container.mux(video.encode(picture))
        container.mux(video.encode(None))
    out = tmp_path / "out.mp4"
    reencode(ref, out)
    assert probe_video(out).audio[0].codec == "aac"
    assert beep_onset_s(out) == pytest.approx(1.0, abs=FRAME_S)


def test_variable_frame_rate_is_detected_and_timestamps_survive(vfr_clip: Path, tmp_path: Path) -> None:
    info = probe_video(vfr_clip)
    assert info.is_vfr
    expected = frame_times(ClipSpec(seconds=3.0, fps=FPS, vfr=True))
    assert [f.pts_s for f in open_frames(vfr_clip)] == pytest.approx(expected, abs=1e-3)
    out = tmp_path / "vfr_out.mp4"
    reencode(vfr_clip, out)
    assert probe_video(out).is_vfr
    assert [f.pts_s for f in open_frames(out)] == pytest.approx(expected, abs=1e-3)
    assert beep_onset_s(out) == pytest.approx(flash_time_s(out), abs=FRAME_S)


def test_rotation_metadata_is_honoured(rotated_clip: Path) -> None:
    info = probe_video(rotated_clip)
    assert info.rotation_deg == 90
    assert (info.coded_width, info.coded_height) == (320, 240)
    assert (info.width, info.height) == (240, 320)
    first = next(iter(open_frames(rotated_clip))).image_bgr_u8
    stored = pattern_frame(noise_texture(320, 240, 2), 320, 240, 0.0)
    assert first.shape == (320, 240, 3)

    def distance(code: int) -> float:
        # Compared at 1/8 scale: fine noise does not survive H.264, the layout does.
        a, b = (cv2.resize(x, (30, 40), interpolation=cv2.INTER_AREA).astype(int)
                for x in (first, cv2.rotate(stored, code)))  # fmt: skip
        return float(np.abs(a - b).mean())

    assert distance(cv2.ROTATE_90_COUNTERCLOCKWISE) < 4
    assert distance(cv2.ROTATE_90_CLOCKWISE) > 3 * distance(cv2.ROTATE_90_COUNTERCLOCKWISE)


def test_odd_sizes_are_padded_to_even(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, fps=Fraction(FPS)) as writer:
        for _ in range(5):
            writer.write(np.full((101, 161, 3), 128, np.uint8))
        report = writer.close()
    assert report.padded and (report.width, report.height) == (162, 102)
    assert probe_video(out).frame_count == 5


def test_image_folder_is_read_in_numeric_order(tmp_path: Path) -> None:
    for i in (1, 2, 10, 9):
        cv2.imwrite(str(tmp_path / f"frame{i}.png"), np.full((8, 8, 3), i, np.uint8))
    (tmp_path / "frame3.png").write_bytes(b"not an image")
    source = open_frames(tmp_path, on_error="skip")
    values = [int(f.image_bgr_u8[0, 0, 0]) for f in source]
    assert values == [1, 2, 9, 10]
    assert source.report.skipped == 1 and source.report.skipped_names == ["frame3.png"]


def test_truncated_video_stops_with_frame_index_or_skips(truncated_clip: Path) -> None:
    with pytest.raises(MediaError, match=r"truncated: it ends after frame \d+ of 75"):
        list(open_frames(truncated_clip))
    source = open_frames(truncated_clip, on_error="skip")
    count = sum(1 for _ in source)
    assert 0 < count < 75 and source.report.ended_early


def test_corrupt_video_reports_the_frame_or_skips_with_a_count(corrupt_clip: Path) -> None:
    with pytest.raises(MediaError, match=r"decoding failed at frame \d+"):
        list(open_frames(corrupt_clip))
    source = open_frames(corrupt_clip, on_error="skip")
    count = sum(1 for _ in source)
    assert count + source.report.skipped <= 75 and source.report.skipped >= 1


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "never.mp4"
    with pytest.raises(RuntimeError), VideoWriter(out, fps=Fraction(FPS)) as writer:
        writer.write(np.zeros((16, 16, 3), np.uint8))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_lossless_reencoding_loses_no_brightness(clip: Path, tmp_path: Path) -> None:
    """Decode and encode invert each other: three crf-0 generations keep the pixels (swscale's
    fast conversion lost about 2 levels per generation)."""
    original = [f.image_bgr_u8.astype(np.int16) for f in open_frames(clip)]
    current = clip
    for generation in range(3):
        out = tmp_path / f"gen{generation}.mp4"
        with VideoWriter(
            out, fps=Fraction(FPS), settings=EncodeSettings(crf=0, preset="ultrafast")
        ) as writer:
            for frame in open_frames(current):
                writer.write(frame.image_bgr_u8, frame.pts_s)
            writer.close()
        current = out
    final = [f.image_bgr_u8.astype(np.int16) for f in open_frames(current)]
    assert len(final) == len(original)
    assert max(float(np.abs(a - b).mean()) for a, b in zip(original, final, strict=True)) < 0.05

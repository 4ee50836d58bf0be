"""The invisible watermark: every merged video carries it, with its payload; re-encoding, a 50%
downscale, a crop to the face or one frame saved as JPEG does not remove it; unmarked video and
pictures do not show it, and the threshold keeps false positives below 1e-6."""

from __future__ import annotations

import binascii
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from faceweave.assets import load_sample_face
from faceweave.cli.main import cli
from faceweave.config import load_config
from faceweave.extract.run import run_extract
from faceweave.formats.aligned import list_face_files, read_face_meta
from faceweave.media.decode import open_frames
from faceweave.media.encode import EncodeSettings, VideoWriter
from faceweave.media.synth import ClipSpec
from faceweave.merge.run import run_merge
from faceweave.provenance.verify import read_picture_watermark, read_watermark
from faceweave.provenance.watermark import (
    CHASE_BITS,
    DECOYS,
    STILL_SHIFTS,
    THRESHOLD,
    corrected_payload,
    describe_payload,
    new_payload,
    payload_intact,
    student_t_tail,
)
from faceweave.pseudovideo import FacePuppet, write_puppet_clip
from faceweave.workspace import Workspace, init_workspace
from tests.merge.conftest import IdentityModel

# A fixed payload keeps the test repeatable; runs draw theirs at random (new_payload).
PAYLOAD = 0x1FAC_5EED_1234_0000 | binascii.crc_hqx(bytes.fromhex("1FAC5EED1234"), 0)


@pytest.fixture(scope="module")
def marked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path]:
    """A 3 s expressive pseudo-video merged with an identity model: only the watermark changes."""
    ws = init_workspace(tmp_path_factory.mktemp("wm") / "ws").workspace
    spec = ClipSpec(seconds=3.0, fps=25, width=640, height=360, seed=2, audio=True)
    write_puppet_clip(ws.dst_video, FacePuppet.from_image(load_sample_face(2)), spec, 2)
    run_extract(load_config(overrides={"extract": {"workers": 1, "size_px": 128}}), ws, "dst")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("faceweave.merge.run.new_payload", lambda: PAYLOAD)
        report = run_merge(load_config(overrides={"merge": {"color": "none"}}), ws, model=IdentityModel())
    assert report.watermark == PAYLOAD
    return ws, report.result


def reencode(source: Path, out: Path, crf: int, box: tuple[slice, slice] | None = None,
             scale: float = 1.0) -> Path:  # fmt: skip
    with VideoWriter(out, fps=Fraction(25), settings=EncodeSettings(crf=crf, preset="medium")) as writer:
        for frame in open_frames(source):
            image = frame.image_bgr_u8[box] if box else frame.image_bgr_u8
            if scale != 1.0:
                image = np.asarray(
                    cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8
                )
            writer.write(np.ascontiguousarray(image))
        writer.close()
    return out


def frame_as_jpeg(video: Path, out: Path, index: int = 37) -> Path:
    frame = next(f for f in open_frames(video) if f.index == index)
    cv2.imwrite(str(out), frame.image_bgr_u8, [cv2.IMWRITE_JPEG_QUALITY, 75])
    return out


def test_a_payload_names_faceweave_and_detects_any_flipped_bit() -> None:
    payload = new_payload()
    assert payload_intact(payload) and "faceweave" in describe_payload(payload)
    assert not any(payload_intact(payload ^ (1 << bit)) for bit in range(64))


def test_weak_misread_bits_are_corrected_and_garbage_is_refused() -> None:
    payload = new_payload()
    bits = np.array([3.0 if payload >> (63 - i) & 1 else -3.0 for i in range(64)])
    assert corrected_payload(bits) == payload
    weak = bits.copy()
    weak[[5, 40]] *= -0.1  # two bits misread, but barely
    assert corrected_payload(weak) == payload
    sure = bits.copy()
    sure[5] *= -2  # one bit misread with confidence: not among the weakest, so not guessed at
    assert corrected_payload(sure) is None
    rng = np.random.default_rng(0)
    accepted = sum(corrected_payload(rng.normal(size=64)) is not None for _ in range(4000))
    assert accepted <= 3 * 4000 * 2.0 ** (CHASE_BITS - 16), accepted


def test_the_threshold_bounds_false_positives() -> None:
    # The moving mark's test is two-sided (a clip may start on either frame parity), the still
    # mark's one-sided, their sum's two-sided (the moving sign is read); a video is flagged when
    # any of the three passes, a picture when any of its (up to 4) faces does at any of the shifts.
    assert (2 + 1 + 2) * student_t_tail(THRESHOLD, DECOYS - 1) < 1e-6
    assert 4 * len(STILL_SHIFTS) * student_t_tail(THRESHOLD, DECOYS - 1) < 1e-6
    assert student_t_tail(3.0, 100_000) == pytest.approx(0.00135, rel=0.01)  # the normal tail


def test_a_merged_video_carries_both_marks_and_the_payload(marked: tuple[Workspace, Path]) -> None:
    mark = read_watermark(marked[1])
    assert mark.moving is not None and mark.moving.found and mark.still.found, mark
    assert mark.payload == PAYLOAD, mark


@pytest.mark.parametrize("crf", [23, 28])
def test_the_mark_survives_reencoding(marked: tuple[Workspace, Path], tmp_path: Path, crf: int) -> None:
    mark = read_watermark(reencode(marked[1], tmp_path / f"crf{crf}.mp4", crf))
    assert mark.moving is not None and mark.moving.found, mark


def test_the_mark_survives_half_size_at_crf_28(marked: tuple[Workspace, Path], tmp_path: Path) -> None:
    mark = read_watermark(reencode(marked[1], tmp_path / "half.mp4", 28, scale=0.5))
    assert mark.moving is not None and mark.moving.found, mark


def test_one_frame_saved_as_jpeg_shows_the_mark(marked: tuple[Workspace, Path], tmp_path: Path) -> None:
    mark = read_picture_watermark(frame_as_jpeg(marked[1], tmp_path / "frame.jpg"))
    assert mark.moving is None and mark.found and mark.still.samples == 1, mark


def test_unmarked_video_shows_no_mark(marked: tuple[Workspace, Path], tmp_path: Path) -> None:
    ws, _ = marked
    for video in (ws.dst_video, reencode(ws.dst_video, tmp_path / "plain28.mp4", 28)):
        mark = read_watermark(video)
        assert mark.moving is not None and not mark.found, mark
        assert abs(mark.moving.score) < THRESHOLD / 2 and mark.still.score < THRESHOLD / 2, mark
        assert abs(mark.combined) < THRESHOLD / 2, mark


def test_unmarked_pictures_show_no_mark(marked: tuple[Workspace, Path], tmp_path: Path) -> None:
    pictures = [frame_as_jpeg(marked[0].dst_video, tmp_path / "dst.jpg")]
    for k in range(4):
        pictures.append(tmp_path / f"face{k}.jpg")
        cv2.imwrite(str(pictures[-1]), load_sample_face(k), [cv2.IMWRITE_JPEG_QUALITY, 75])
    for picture in pictures:
        mark = read_picture_watermark(picture)
        assert mark.still.samples >= 1 and not mark.found and mark.still.score < THRESHOLD / 2, (
            picture,
            mark,
        )


def test_the_mark_survives_cropping_to_the_face(marked: tuple[Workspace, Path], tmp_path: Path) -> None:
    ws, result = marked
    boxes = np.array([read_face_meta(p).bbox_xyxy for p in list_face_files(ws.dst_aligned)])
    (x0, y0), (x1, y1) = boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)
    pad = 0.2 * (x1 - x0)
    box = (slice(int(max(0, y0 - pad)), int(y1 + pad)), slice(int(max(0, x0 - pad)), int(x1 + pad)))
    mark = read_watermark(reencode(result, tmp_path / "crop.mp4", 23, box))
    assert mark.moving is not None and mark.moving.found, mark


def test_verify_trusts_the_watermark_when_the_manifest_is_gone(
    marked: tuple[Workspace, Path], tmp_path: Path
) -> None:
    """A re-encode or a saved frame drops the manifest; the watermark alone still labels it."""
    ws, result = marked
    copies = [reencode(result, tmp_path / "copy.mp4", 23), frame_as_jpeg(result, tmp_path / "frame.jpg")]
    labelled = CliRunner().invoke(cli, ["verify", *map(str, copies)])
    assert labelled.exit_code == 0, labelled.output
    assert labelled.output.count("manifest: none") == 2 and labelled.output.count("watermark: FOUND") == 2
    assert f"payload {PAYLOAD:016x}" in labelled.output, labelled.output
    plain = CliRunner().invoke(cli, ["verify", str(frame_as_jpeg(ws.dst_video, tmp_path / "dst.jpg"))])
    assert plain.exit_code == 1 and "watermark: none found" in plain.output, plain.output


# Run in a fresh interpreter that loads numpy before faceweave, as a library user may: then
# faceweave's OPENBLAS_NUM_THREADS=1 comes too late, and only the code itself can keep OpenBLAS's
# pool asleep. OpenCV's own pool is off, so CPU time outside the main thread is a spinner's.
_SPIN_PROBE = """
import resource, time
import cv2
import numpy as np
from faceweave.provenance.watermark import embed, mark_field, new_payload
cv2.setNumThreads(1)
image = np.full((360, 640, 3), 120, np.uint8)
landmarks = np.zeros((478, 3))
landmarks[:, :2] = np.random.default_rng(3).uniform((250, 110), (390, 250), (478, 2))
coverage, field = np.ones((360, 640), np.float32), mark_field(new_payload())
embed(image, landmarks, field, 0, coverage)
def process_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
wall, cpu, own = time.perf_counter(), process_cpu(), time.thread_time()
for index in range(150):
    embed(image, landmarks, field, index, coverage)
    time.sleep(0.002)  # idle gaps, as between frames, in which a woken pool would spin
print(time.perf_counter() - wall, (process_cpu() - cpu) - (time.thread_time() - own))
"""


def test_embedding_leaves_no_thread_spinning_beside_it() -> None:
    """Per face, the mark must cost only its own thread's time: a LAPACK inverse used to wake
    OpenBLAS's pool, whose thread then spun on the other core for the whole merge."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}  # as a fresh shell has it
    probe = [sys.executable, "-c", _SPIN_PROBE]
    done = subprocess.run(probe, capture_output=True, text=True, check=True, env=env)
    wall, elsewhere = (float(v) for v in done.stdout.split()[-2:])
    assert elsewhere < 0.25 * wall, f"other threads used {elsewhere:.2f} s of CPU in {wall:.2f} s"

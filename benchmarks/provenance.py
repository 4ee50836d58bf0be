"""The watermark under attack: detection per attack over N 3-second clips, false positives on
the unmarked clips and pictures, what the mark costs the picture, and what it adds to merge time.

Each clip: an expressive pseudo-video of a bundled synthetic face (640x360, 25 fps, a different
seed and pose path per clip), extracted, then merged. `--model identity` (the default) merges
with a model that returns its input, so only the watermark changes the picture (four faces take
turns). `--model trained` first trains the quick model (src: face 0, dst: face 1) for
`--train-minutes`, as the demo does, and merges every clip (all of face 1) with it: a real swap,
whose features are the model's and not dst's. Attacks: H.264 re-encode at crf 23 and 28, crf 28
after a 50% downscale, a crop around the face re-encoded at crf 23, and single frames (0, 25, 50
of each clip) saved as JPEG q75. Videos are flagged by any of the three tests (moving mark,
still mark, both); the columns show each.
Usage: python benchmarks/provenance.py [--clips 4] [--model identity|trained] [--train-minutes 4]
       [--model-dir DEMO_WORKSPACE/model] [--cost-runs 3]
"""

from __future__ import annotations

# isort: off
import faceweave  # noqa: F401  first, as in the CLI: it sets OPENBLAS_NUM_THREADS before numpy loads

# isort: on
import argparse
import contextlib
import math
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from unittest import mock

import cv2
import numpy as np

from faceweave.assets import load_sample_face
from faceweave.config import load_config
from faceweave.demo import DST_FACE, run_demo
from faceweave.extract.run import run_extract
from faceweave.formats.aligned import list_face_files, read_face_meta
from faceweave.formats.checkpoint import load_checkpoint
from faceweave.media.decode import open_frames
from faceweave.media.encode import EncodeSettings, VideoWriter
from faceweave.media.synth import ClipSpec
from faceweave.merge.run import run_merge
from faceweave.models import FaceSwapModel
from faceweave.provenance.verify import Watermark, read_picture_watermark, read_watermark
from faceweave.provenance.watermark import THRESHOLD, Landmarks, embed, mark_field, new_payload
from faceweave.pseudovideo import FacePuppet, write_puppet_clip
from faceweave.records import ImageBGR
from faceweave.workspace import Workspace, init_workspace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.merge.conftest import IdentityModel

Transform = Callable[[ImageBGR], ImageBGR]


def rewrite(source: Path, out: Path, crf: int, transform: Transform | None = None) -> Path:
    with VideoWriter(out, fps=Fraction(25), settings=EncodeSettings(crf=crf, preset="medium")) as writer:
        for frame in open_frames(source):
            writer.write(transform(frame.image_bgr_u8) if transform else frame.image_bgr_u8)
        writer.close()
    return out


def face_box(ws: Workspace) -> tuple[slice, slice]:
    boxes = np.array([read_face_meta(p).bbox_xyxy for p in list_face_files(ws.dst_aligned)])
    x0, y0 = boxes[:, :2].min(axis=0)
    x1, y1 = boxes[:, 2:].max(axis=0)
    pad = (x1 - x0) * 0.2
    return slice(int(max(0, y0 - pad)), int(y1 + pad)), slice(int(max(0, x0 - pad)), int(x1 + pad))


def half(image: ImageBGR) -> ImageBGR:
    return np.asarray(cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA), np.uint8)


def cropper(rows: slice, cols: slice) -> Transform:
    def crop(image: ImageBGR) -> ImageBGR:
        return np.ascontiguousarray(image[rows, cols])

    return crop


def make_clip(root: Path, k: int, model: FaceSwapModel, face: int | None) -> tuple[Workspace, Path, int]:
    """Clip k of `face` (or of the k-th bundled face), extracted and merged with `model`."""
    face = k % 4 if face is None else face
    ws = init_workspace(root / f"clip{k}").workspace
    spec = ClipSpec(seconds=3.0, fps=25, width=640, height=360, seed=k, audio=True)
    write_puppet_clip(ws.dst_video, FacePuppet.from_image(load_sample_face(face)), spec, k)
    run_extract(load_config(overrides={"extract": {"workers": 1, "size_px": 128}}), ws, "dst")
    config = load_config(overrides={"merge": {"color": "none", "dump": True}})  # frames before encoding
    merged = run_merge(config, ws, model=model)
    return ws, merged.result, merged.watermark


def trained_model(root: Path, minutes: float) -> FaceSwapModel:
    """The quick model trained for `minutes` on the demo's pseudo-videos (src face 0, dst 1)."""
    demo = run_demo(load_config(preset="quick"), root / "swap", seconds=4.0, train_minutes=minutes)
    return load_checkpoint(demo.workspace.model).model.eval()


def embed_cost(ws: Workspace) -> float:
    """Median ms to watermark one face in a 720p frame (placement excluded)."""
    metas = {m.frame_index: m for m in (read_face_meta(p) for p in list_face_files(ws.dst_aligned))}
    field, times = mark_field(new_payload()), []
    for frame in open_frames(ws.dst_video):
        if frame.index in metas:
            image, coverage = frame.image_bgr_u8.copy(), np.ones(frame.image_bgr_u8.shape[:2], np.float32)
            start = time.perf_counter()
            embed(image, metas[frame.index].landmarks_frame, field, frame.index, coverage)
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


class _AtDst:
    """A placer that keeps dst's landmarks: with `embed` switched off too, a merge without marks."""

    def __init__(self, _count: int) -> None:
        pass

    def __enter__(self) -> _AtDst:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def __call__(self, _image: ImageBGR, landmarks: Landmarks, _track: int = 0) -> Landmarks:
        return landmarks

    def follow(self) -> _AtDst:
        return self


@dataclass(frozen=True)
class Overhead:
    """Merge seconds without and with the marks, run in turns, and CPU seconds of each."""

    bare: list[float]
    marked: list[float]
    bare_cpu: list[float]
    marked_cpu: list[float]
    embed_ms: float

    def summary(self) -> str:
        ratios = sorted(m / b - 1 for b, m in zip(self.bare, self.marked, strict=True))
        cpu = statistics.median(m / b - 1 for b, m in zip(self.bare_cpu, self.marked_cpu, strict=True))
        return (
            f"merge of 250 720p frames: {statistics.median(self.bare):.2f} s without the marks, "
            f"{statistics.median(self.marked):.2f} s with them (medians of {len(ratios)}); paired, "
            f"the marks add {100 * statistics.median(ratios):.0f}% (range {100 * ratios[0]:.0f} to "
            f"{100 * ratios[-1]:.0f}%) of wall time and {100 * cpu:.0f}% of CPU time; "
            f"embedding alone {self.embed_ms:.2f} ms per face"
        )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def merge_overhead(root: Path, runs: int = 3) -> Overhead:
    """A 10 s 720p clip merged (default settings, identity model) with and without the marks, in
    turns. The benchmark, not faceweave, switches the marks off: faceweave has no such switch."""
    ws = init_workspace(root / "cost").workspace
    spec = ClipSpec(seconds=10.0, fps=25, width=1280, height=720, seed=9, audio=True)
    write_puppet_clip(ws.dst_video, FacePuppet.from_image(load_sample_face(1)), spec, 9)
    run_extract(load_config(), ws, "dst")
    wall: dict[bool, list[float]] = {True: [], False: []}
    cpu: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(runs):
        for marked in (False, True):
            with contextlib.ExitStack() as stack:
                if not marked:
                    stack.enter_context(mock.patch("faceweave.merge.run.embed", lambda *_: None))
                    stack.enter_context(mock.patch("faceweave.merge.run.MarkPlacer", _AtDst))
                start, start_cpu = time.perf_counter(), _cpu_seconds()
                run_merge(load_config(), ws, model=IdentityModel())
                wall[marked].append(time.perf_counter() - start)
                cpu[marked].append(_cpu_seconds() - start_cpu)
    return Overhead(wall[False], wall[True], cpu[False], cpu[True], embed_cost(ws))


JPEG_FRAMES = (0, 25, 50)


def jpeg_frames(video: Path, out: Path) -> list[Path]:
    paths = []
    for frame in open_frames(video):
        if frame.index in JPEG_FRAMES:
            paths.append(out.with_name(f"{out.stem}_{frame.index}.jpg"))
            cv2.imwrite(str(paths[-1]), frame.image_bgr_u8, [cv2.IMWRITE_JPEG_QUALITY, 75])
    return paths


def mark_size(ws: Workspace) -> tuple[float, float]:
    """RMS luminance change inside the face boxes, and the PSNR of the merged frames (as dumped,
    before encoding) against dst there: the identity model leaves little but the mark."""
    metas = {m.frame_index: m for m in (read_face_meta(p) for p in list_face_files(ws.dst_aligned))}
    squares, count = 0.0, 0
    for frame in open_frames(ws.dst_video):
        meta = metas.get(frame.index)
        if meta is None:
            continue
        merged = cv2.imread(str(ws.merged / f"{frame.index:06d}.png"))
        x0, y0, x1, y1 = (int(v) for v in meta.bbox_xyxy)
        gray = [cv2.cvtColor(f[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY).astype(np.float64)
                for f in (frame.image_bgr_u8, merged)]  # fmt: skip
        squares += float(((gray[1] - gray[0]) ** 2).sum())
        count += gray[0].size
    rms = (squares / count) ** 0.5
    return rms, 20 * np.log10(255 / rms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--model", choices=("identity", "trained"), default="identity")
    parser.add_argument("--train-minutes", type=float, default=4.0)
    parser.add_argument("--model-dir", type=Path, help="merge with this trained model folder instead "
                        "(a demo workspace's model/: src face 0, dst face 1)")  # fmt: skip
    parser.add_argument("--cost-runs", type=int, default=3, help="merges timed each way (0: skip)")
    args = parser.parse_args()
    attacks = (
        "merged (crf 18)",
        "crf 23",
        "crf 28",
        "50% + crf 28",
        "face crop, crf 23",
        "one frame, JPEG q75",
    )
    found: dict[str, list[Watermark]] = {name: [] for name in attacks}
    payloads: dict[str, int] = dict.fromkeys(attacks, 0)
    unmarked: list[Watermark] = []
    sizes: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        trained = args.model == "trained" or args.model_dir is not None
        model: FaceSwapModel = IdentityModel()
        if args.model_dir:
            model = load_checkpoint(args.model_dir).model.eval()
        elif trained:
            model = trained_model(root, args.train_minutes)
        for k in range(args.clips):
            ws, result, payload = make_clip(root, k, model, DST_FACE if trained else None)
            if not trained:  # a swapped face differs from dst by more than the mark
                sizes.append(mark_size(ws))
            rows, cols = face_box(ws)
            videos = {
                attacks[0]: result,
                attacks[1]: rewrite(result, root / f"{k}_23.mp4", 23),
                attacks[2]: rewrite(result, root / f"{k}_28.mp4", 28),
                attacks[3]: rewrite(result, root / f"{k}_half.mp4", 28, half),
                attacks[4]: rewrite(result, root / f"{k}_crop.mp4", 23, cropper(rows, cols)),
            }
            for name, video in videos.items():
                mark = read_watermark(video)
                found[name].append(mark)
                payloads[name] += mark.payload == payload
            found[attacks[5]] += [read_picture_watermark(p) for p in jpeg_frames(result, root / f"{k}.jpg")]
            for plain in (ws.dst_video, rewrite(ws.dst_video, root / f"{k}_plain28.mp4", 28)):
                unmarked.append(read_watermark(plain))
            unmarked += [
                read_picture_watermark(p) for p in jpeg_frames(ws.dst_video, root / f"{k}_plain.jpg")
            ]
            print(f"clip {k} done", file=sys.stderr, flush=True)
        cost = merge_overhead(root, args.cost_runs) if args.cost_runs else None
    kind = "trained" if trained else "identity"
    print(f"{args.clips} clips of 3 s, {kind} model; a mark is found when its score > {THRESHOLD}")
    for name, marks in found.items() if args.clips else ():
        print(f"{name:20s}: detected {len([m for m in marks if m.found])}/{len(marks)}, " + _columns(marks))
        detail = f"payload read {payloads[name]}/{len(marks)}; " if name != attacks[5] else ""
        print(f"{'':20s}  {detail}{_miss_estimate(marks)}")
    false = [m for m in unmarked if m.found]
    if unmarked:
        print(
            f"unmarked (as made, crf 28, JPEG frames): {len(false)} of {len(unmarked)} flagged, "
            + _columns(unmarked)
        )
    if sizes:
        rms, psnr = (statistics.median(v) for v in zip(*sizes, strict=True))
        print(f"the mark in the face box: RMS {rms:.2f} levels, PSNR {psnr:.1f} dB (median over clips)")
    if cost is not None:
        print(cost.summary())


def _deciding(mark: Watermark) -> float:
    """The score that decides: the strongest of the marks' tests."""
    moving = abs(mark.moving.score) if mark.moving is not None else 0.0
    return max(moving, mark.still.score, mark.combined)


def _miss_estimate(marks: list[Watermark]) -> str:
    """The lowest deciding scores, and the share of clips a log-normal fit to them puts under
    the threshold (the scores are positive and skewed upwards): a guide where a few dozen clips
    cannot show a 1% miss rate directly. With no miss in N, 3/N is the 95% upper bound."""
    scores = sorted(_deciding(m) for m in marks)
    if len(scores) < 2:
        return f"deciding score {scores[0]:.1f}" if scores else "no clips"
    logs = [math.log(max(score, 0.1)) for score in scores]
    miss = statistics.NormalDist(statistics.mean(logs), statistics.stdev(logs)).cdf(math.log(THRESHOLD))
    lowest = " ".join(f"{score:.1f}" for score in scores[:5])
    return f"lowest deciding scores {lowest}; log-normal fit puts {100 * miss:.2g}% under {THRESHOLD}"


def _columns(marks: list[Watermark]) -> str:
    stills = [m.still.score for m in marks]
    moving = [abs(m.moving.score) for m in marks if m.moving is not None]
    text = f"still score min {min(stills):.1f} median {statistics.median(stills):.1f} max {max(stills):.1f}"
    if moving:
        both = [m.combined for m in marks]
        text += f"; moving min {min(moving):.1f} median {statistics.median(moving):.1f} max {max(moving):.1f}"
        text += f"; both min {min(both):.1f} median {statistics.median(both):.1f} max {max(both):.1f}"
    return text


if __name__ == "__main__":
    main()

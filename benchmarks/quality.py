"""The quality scoreboard: `faceweave eval` on expressive pseudo-video pairs, after 5, 15 and 60
minutes of `quick` training, with the calibration anchors beside them.

Each pair: a calm src clip (a little talking, blinks) of one bundled synthetic face and an
expressive dst clip of another (the mouth opens wide, smiles, squints, raised brows, blinks), with
their true expression per frame. Training runs in stages to step counts rather than wall time, so
that a busy machine does not change the result: `--steps-per-min` (default 368, the rate the
quick model trained at in a plain `faceweave demo` on the 2-core CPU, 5,147 steps in 14 min)
times each stage's minutes. After each stage the model merges dst into `result_<stage>.mp4`.

`score` then runs `faceweave eval` on every result (against the pair's truth) and on three
anchors: dst re-encoded at crf 18 (the codec floor), dst passed through as the "swap" (identity
must fail) and src's first face pasted still on every dst frame (performance must fail), and
prints one markdown table.

Usage: python benchmarks/quality.py train [--pairs 0,1] [--stages 5,15,60] [--out bench_quality]
       python benchmarks/quality.py score [--out bench_quality]
"""

from __future__ import annotations

# isort: off
import faceweave  # noqa: F401  first, as in the CLI: it sets OPENBLAS_NUM_THREADS before numpy loads

# isort: on
import argparse
import json
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path

from faceweave.assets import load_sample_face
from faceweave.config import Config, load_config
from faceweave.extract.run import run_extract
from faceweave.media.synth import ClipSpec
from faceweave.merge.run import run_merge
from faceweave.pseudovideo import FacePuppet, calm_at, expressive_at, write_puppet_clip
from faceweave.train.run import run_train
from faceweave.workspace import Workspace, init_workspace

# (src face, dst face) of the bundled faces, per pair.
PAIRS = ((0, 1), (2, 3))
SRC_SECONDS, DST_SECONDS = 12.0, 8.0


def pair_workspace(out: Path, pair: int) -> Workspace:
    return init_workspace(out / f"pair{pair}").workspace


def make_pair(ws: Workspace, pair: int, config: Config) -> None:
    """The two clips (once) with the dst truth beside them, extracted."""
    if (ws.root / "truth.json").is_file():
        return
    src_face, dst_face = PAIRS[pair]
    settings = config.video.encode_settings()
    for video, face, seconds, timeline in (
        (ws.src_video, src_face, SRC_SECONDS, calm_at),
        (ws.dst_video, dst_face, DST_SECONDS, expressive_at),
    ):
        spec = ClipSpec(seconds=seconds, fps=25, width=640, height=360, seed=10 + face, flash_s=(1.0,))
        truth = write_puppet_clip(
            video, FacePuppet.from_image(load_sample_face(face)), spec, 10 + face, settings, timeline
        )
        if video == ws.dst_video:
            frames = [asdict(t[0].expression) for t in truth]
    for side in ("src", "dst"):
        run_extract(config, ws, side, overwrite=True)
    (ws.root / "truth.json").write_text(json.dumps({"frames": frames}), encoding="utf-8")


def train_stages(ws: Workspace, config: Config, stages: list[float], steps_per_min: float) -> None:
    for minutes in stages:
        result = ws.root / f"result_{minutes:g}min.mp4"
        if result.is_file():
            continue
        steps = round(minutes * steps_per_min)
        start = time.monotonic()
        run_train(replace(config, train=replace(config.train, iterations=steps, time_limit_min=0)), ws)
        print(
            f"{ws.root.name}: trained to {steps} steps ({minutes:g} min) in {time.monotonic() - start:.0f} s"
        )
        run_merge(config, ws)
        shutil.copyfile(ws.result, result)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("phase", choices=("train", "score"))
    parser.add_argument("--pairs", default="0,1")
    parser.add_argument("--stages", default="5,15,60")
    parser.add_argument("--steps-per-min", type=float, default=660.0)
    parser.add_argument("--out", type=Path, default=Path("bench_quality"))
    args = parser.parse_args()
    pairs = [int(p) for p in args.pairs.split(",")]
    stages = [float(s) for s in args.stages.split(",")]
    config = load_config(preset="quick")
    if args.phase == "train":
        for pair in pairs:
            ws = pair_workspace(args.out, pair)
            make_pair(ws, pair, config)
            train_stages(ws, config, stages, args.steps_per_min)


if __name__ == "__main__":
    main()

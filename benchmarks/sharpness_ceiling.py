"""How much of dst's detail can a model of a given size keep at all? A perfect model, measured.

For a `benchmarks/quality.py` pair workspace, dst's own aligned faces are shrunk to each model
size and merged back into dst through the normal merge (`quick`'s [merge] defaults; the learnt
mask is full, so the dst hull is the mask), as a model that reproduced dst perfectly at that size
would draw them; `faceweave eval` then scores each result against dst. What is lost is what the
size, the paste and the watermark lose, not what a model fails to learn: no model of that size
can score above it.

Usage: python benchmarks/sharpness_ceiling.py WORKSPACE [--sizes 64,128,256] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
from pathlib import Path

import torch

from faceweave.config import load_config
from faceweave.merge.run import run_merge
from faceweave.models import FaceSwapModel, ModelConfig
from faceweave.quality.run import EvalInputs, run_eval
from faceweave.workspace import Workspace

ROWS = ("sharpness_x_dst", "seam_x_dst", "skin_delta_e", "jitter_x_floor", "flicker_x_floor")


class PerfectModel(FaceSwapModel):
    """Gives back the dst face it is shown, at its own size, under a full mask."""

    def __init__(self, resolution: int) -> None:
        super().__init__()
        self.config = ModelConfig(resolution=resolution)
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def swap(self, dst_faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return dst_faces, torch.ones_like(dst_faces[:, :1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--sizes", default="64,128,256")
    parser.add_argument("--out", type=Path, help="where to keep the results (default: a temporary folder)")
    args = parser.parse_args()
    source = Workspace(args.workspace)
    config = load_config(preset="quick")
    out = args.out or Path(tempfile.mkdtemp(prefix="ceiling_"))
    rows: dict[int, dict[str, float]] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        ws = Workspace(out / f"perfect_{size}")
        if not ws.root.exists():
            ws.root.mkdir(parents=True)
            for name in ("data_dst", "data_dst.mp4", "truth.json"):
                copy = shutil.copytree if (source.root / name).is_dir() else shutil.copyfile
                copy(source.root / name, ws.root / name)
        run_merge(config, ws, model=PerfectModel(size))
        inputs = EvalInputs(
            ws.result, ws.dst_video, (source.src_aligned,), ws.root / "eval", ws.root / "truth.json"
        )
        values = run_eval(config, inputs).values["result"]
        rows[size] = {key: math.nan if (v := values[key]) is None else float(v) for key in ROWS}
        print(size, " ".join(f"{key} {rows[size][key]:.3f}" for key in ROWS), flush=True)
    (out / "ceiling.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print(f"results in {out}")


if __name__ == "__main__":
    main()

"""Do DeepFaceLab's -u (pixel norm) and -d (double resolution) variants pay on the quick preset?

For each variant: train the quick model on a workspace's two facesets for --steps steps (same seed,
same batches), report training faces/s per side and the quality of unwarped reconstructions of
all faces inside the hull (SSIM, PSNR), as benchmarks/equal_steps.py scores them.
Usage: python benchmarks/variants.py WORKSPACE [--steps 600]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import torch

from equal_steps import evaluate
from faceweave.config import load_config
from faceweave.formats.checkpoint import load_checkpoint
from faceweave.models.registry import Side
from faceweave.train.data import Faceset, load_faceset
from faceweave.train.run import run_train
from faceweave.workspace import Workspace

VARIANTS = {"plain": {}, "-u": {"pixel_norm": True}, "-d": {"double_res": True},
            "-ud": {"pixel_norm": True, "double_res": True}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    source = Workspace(args.workspace)
    sets: dict[Side, Faceset] = {
        "src": load_faceset(source.src_aligned, 64),
        "dst": load_faceset(source.dst_aligned, 64),
    }
    print(f"quick preset, {len(sets['src'].faces)} + {len(sets['dst'].faces)} faces, {args.steps} steps")
    for name in args.variants.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            ws = Workspace(Path(tmp))
            for side in ("data_src", "data_dst"):
                shutil.copytree(source.root / side / "aligned", ws.root / side / "aligned")
            overrides = {"train": {"iterations": args.steps, "preview_every": 0, **VARIANTS[name]}}
            report = run_train(load_config(preset="quick", overrides=overrides), ws)
            model = load_checkpoint(ws.model).model
            params = sum(p.numel() for p in model.parameters()) / 1e6
            score, psnr = evaluate(model, sets, torch.device("cpu"))
            print(f"{name:6s}: {report.samples_per_s / 2:5.1f} faces/s per side, {params:5.1f} M params, "
                  f"SSIM {score:.4f}, PSNR {psnr:.2f} dB")  # fmt: skip


if __name__ == "__main__":
    main()

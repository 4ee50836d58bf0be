"""Training speed: samples/s per side, parameters, FLOPs per sample and the fraction of the
machine's peak, for each preset's model and for faceswap's `original` layer spec.

The step timed is forward + loss + backward + AdamW on random 64/256 px batches (no data loading);
the peak is a 2048x2048 matmul measured in the same run, in the precision the step uses.
Usage: python benchmarks/train.py [--steps 6] [--presets quick,hd] [--batches 8,16]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from faceweave.config import load_config
from faceweave.models import FaceSwapModel, ModelConfig, build_model
from faceweave.train.loss import face_loss
from faceweave.train.run import model_config, use_bf16


class FaceswapOriginal(FaceSwapModel):
    """faceswap's `original` (64 px): encoder 128-256-512-1024 convs, dense 1024, dense 4x4x1024,
    upscale to 8x8x512; per side a decoder upscaling 256, 128, 64 then a 5x5 conv to RGB."""

    def __init__(self) -> None:
        super().__init__()
        self.config = ModelConfig()  # unused: this model is built directly, not from a config
        act = nn.LeakyReLU(0.1)
        convs: list[nn.Module] = []
        for cin, cout in ((3, 128), (128, 256), (256, 512), (512, 1024)):
            convs += [nn.Conv2d(cin, cout, 5, stride=2, padding=2), act]
        self.encoder = nn.Sequential(*convs, nn.Flatten(), nn.Linear(4 * 4 * 1024, 1024),
                                     nn.Linear(1024, 4 * 4 * 1024), nn.Unflatten(1, (1024, 4, 4)),
                                     *self._up(1024, 512))  # fmt: skip
        self.decoders = nn.ModuleDict({side: self._decoder() for side in ("src", "dst")})

    @classmethod
    def _decoder(cls) -> nn.Sequential:
        layers = [*cls._up(512, 256), *cls._up(256, 128), *cls._up(128, 64)]
        return nn.Sequential(*layers, nn.Conv2d(64, 3, 5, padding=2), nn.Sigmoid())

    @staticmethod
    def _up(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout * 4, 3, padding=1), nn.LeakyReLU(0.1), nn.PixelShuffle(2)]

    def reconstruct(self, faces: torch.Tensor, side: str) -> tuple[torch.Tensor, torch.Tensor]:
        rgb: torch.Tensor = self.decoders[side](self.encoder(faces))
        return rgb, torch.ones_like(rgb[:, :1])

    def swap(self, dst_faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.reconstruct(dst_faces, "src")


def peak_gflops(bf16: bool) -> float:
    dtype = torch.bfloat16 if bf16 else torch.float32
    a, b = torch.rand(2048, 2048, dtype=dtype), torch.rand(2048, 2048, dtype=dtype)
    a @ b
    times = []
    for _ in range(3):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * 2048**3 / statistics.median(times) / 1e9


def step_fn(model: FaceSwapModel, batch: int, resolution: int, bf16: bool) -> tuple[object, object]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
    faces = torch.rand(batch, 3, resolution, resolution)
    mask = torch.ones(batch, 1, resolution, resolution)

    def step() -> None:
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with autocast:
            (a, am), (b, bm) = model(faces, faces)
        loss = face_loss(a, am, faces, mask, mask)[0] + face_loss(b, bm, faces, mask, mask)[0]
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()

    return step, optimizer


def measure(name: str, model: FaceSwapModel, resolution: int, batches: list[int], bf16: bool, steps: int,
            peak: float) -> None:  # fmt: skip
    params = sum(p.numel() for p in model.parameters()) / 1e6
    for batch in batches:
        step, _ = step_fn(model, batch, resolution, bf16)
        with FlopCounterMode(display=False) as counter:
            step()  # type: ignore[operator]
        flops = counter.get_total_flops() / (2 * batch)
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            step()  # type: ignore[operator]
            times.append(time.perf_counter() - start)
        per_side = batch / statistics.median(times)
        used = flops * 2 * per_side / 1e9
        print(f"{name:28s} {resolution:4d}px batch {batch:3d} {'bf16' if bf16 else 'fp32'}: "
              f"{per_side:6.1f} faces/s per side, {params:6.1f} M params, {flops / 1e9:6.2f} GFLOP/sample, "
              f"{100 * used / peak:5.1f}% of peak")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--presets", default="quick,hd")
    parser.add_argument("--batches", default="8,16")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    torch.manual_seed(0)
    peaks = {bf16: peak_gflops(bf16) for bf16 in (False, True)}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; peak 2048^2 matmul: fp32 {peaks[False]:.0f}, "
          f"bf16 {peaks[True]:.0f} GFLOP/s; median of {args.steps} steps")  # fmt: skip
    for preset in args.presets.split(","):
        cfg = load_config(preset=preset).train
        bf16 = use_bf16(cfg, torch.device("cpu"))
        model = build_model(model_config(cfg))
        name = f"preset {preset} ({cfg.arch})"
        measure(name, model, cfg.resolution, batches, bf16, args.steps, peaks[bf16])
    for bf16 in (False, True):
        measure("faceswap original spec", FaceswapOriginal(), 64, [16], bf16, args.steps, peaks[bf16])


if __name__ == "__main__":
    main()

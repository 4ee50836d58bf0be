"""Training speed: samples/s per side, parameters, FLOPs per sample and the fraction of the
machine's peak, for each preset's model and for faceswap's `original` layer spec.

The step timed is forward + loss + backward + AdamW on random batches (no data loading); the peak
is a large matmul measured in the same run, in the precision the step uses. With --faces WORKSPACE
it also times the data path alone (DataLoader workers preparing warped batches from real faces),
which must outrun the step or the accelerator waits on the CPU.
Usage: python benchmarks/train.py [--steps 6] [--presets quick,hd] [--batches 8,16]
       [--device cpu|cuda] [--compile] [--resolutions 128,256] [--faces WORKSPACE --workers 0,4]
"""

from __future__ import annotations

# isort: off
import faceweave  # noqa: F401  first, as in the CLI: it sets OPENBLAS_NUM_THREADS before numpy loads

# isort: on
import argparse
import contextlib
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from faceweave.config import load_config
from faceweave.models import FaceSwapModel, ModelConfig, build_model
from faceweave.train.data import load_faceset
from faceweave.train.loss import face_loss
from faceweave.train.run import model_config, use_bf16
from faceweave.train.stream import StreamSettings, batch_loader
from faceweave.workspace import Workspace


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


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_gflops(bf16: bool, device: torch.device) -> float:
    dtype = torch.bfloat16 if bf16 else torch.float32
    side = 8192 if device.type == "cuda" else 2048
    a = torch.rand(side, side, dtype=dtype, device=device)
    b = torch.rand(side, side, dtype=dtype, device=device)
    a @ b
    times = []
    for _ in range(5):
        sync(device)
        start = time.perf_counter()
        a @ b
        sync(device)
        times.append(time.perf_counter() - start)
    return 2 * side**3 / statistics.median(times) / 1e9


@dataclass(frozen=True)
class Run:
    device: torch.device
    bf16: bool
    compile: bool
    steps: int
    peak: float


def step_fn(model: FaceSwapModel, batch: int, resolution: int, run: Run) -> Callable[[], None]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, fused=True)  # as faceweave trains
    layout = torch.channels_last if run.device.type == "cuda" else torch.contiguous_format
    faces = torch.rand(batch, 3, resolution, resolution, device=run.device).contiguous(memory_format=layout)
    mask = torch.ones(batch, 1, resolution, resolution, device=run.device)
    forward = torch.compile(model) if run.compile else model

    def step() -> None:
        autocast = (
            torch.autocast(run.device.type, dtype=torch.bfloat16) if run.bf16 else contextlib.nullcontext()
        )
        with autocast:
            (a, am), (b, bm) = forward(faces, faces)
        loss = face_loss(a, am, faces, mask, mask)[0] + face_loss(b, bm, faces, mask, mask)[0]
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()

    return step


def measure(name: str, model: FaceSwapModel, resolution: int, batches: list[int], run: Run) -> None:
    model = model.to(run.device)
    if run.device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    params = sum(p.numel() for p in model.parameters()) / 1e6
    for batch in batches:
        step = step_fn(model, batch, resolution, run)
        step()  # warm-up (and the compile, when asked for)
        with FlopCounterMode(display=False) as counter:
            step()
        flops = counter.get_total_flops() / (2 * batch)
        times = []
        for _ in range(run.steps):
            sync(run.device)
            start = time.perf_counter()
            step()
            sync(run.device)
            times.append(time.perf_counter() - start)
        per_side = batch / statistics.median(times)
        used = flops * 2 * per_side / 1e9
        mode = ("bf16" if run.bf16 else "fp32") + (" compiled" if run.compile else "")
        print(f"{name:28s} {resolution:4d}px batch {batch:3d} {mode:13s}: "
              f"{per_side:8.1f} faces/s per side, {params:6.1f} M params, {flops / 1e9:7.2f} GFLOP/sample, "
              f"{100 * used / run.peak:5.1f}% of peak")  # fmt: skip


def measure_loader(workspace: Path, resolution: int, batch: int, workers: int, batches: int) -> None:
    """Faces/s per side that DataLoader workers deliver from a real faceset (warp, flip, jitter)."""
    ws = Workspace(workspace)
    src, dst = load_faceset(ws.src_aligned, resolution), load_faceset(ws.dst_aligned, resolution)
    settings = StreamSettings(batch, seed=0, warp=True, uniform_yaw=True, eyes_mouth_weight=3.0)
    loader = batch_loader(src, dst, settings, 0, workers, pin=torch.cuda.is_available())
    for _ in range(max(2, workers)):
        next(loader)  # workers started and their first batches made
    start = time.perf_counter()
    for _ in range(batches):
        next(loader)
    per_side = batch * batches / (time.perf_counter() - start)
    print(f"data path {resolution:4d}px batch {batch:3d}, {workers} workers: {per_side:8.1f} faces/s/side")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--presets", default="quick,hd")
    parser.add_argument("--batches", default="8,16")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd models")
    parser.add_argument("--resolutions", default="", help="override each preset's resolution, e.g. 128,256")
    parser.add_argument("--faces", type=Path, help="a workspace with both facesets: time the data path")
    parser.add_argument("--workers", default="0,2", help="loader worker counts for --faces")
    parser.add_argument("--no-original", action="store_true", help="skip faceswap's original spec")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    device = torch.device(args.device)
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    peaks = {bf16: peak_gflops(bf16, device) for bf16 in (False, True)}
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
    print(f"machine: {gpu}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; peak matmul: fp32 {peaks[False]:.0f}, "
          f"bf16 {peaks[True]:.0f} GFLOP/s; median of {args.steps} steps")  # fmt: skip
    compiles = (False, True) if args.compile else (False,)
    for preset in args.presets.split(","):
        cfg = load_config(preset=preset).train
        bf16 = use_bf16(cfg, device)
        sizes = [int(r) for r in args.resolutions.split(",")] if args.resolutions else [cfg.resolution]
        for resolution in sizes:
            for compiled in compiles:
                model = build_model(replace(model_config(cfg), resolution=resolution))
                run = Run(device, bf16, compiled, args.steps, peaks[bf16])
                measure(f"preset {preset} ({cfg.arch})", model, resolution, batches, run)
    if not args.no_original:
        for bf16 in (False, True):
            for compiled in compiles:
                run = Run(device, bf16, compiled, args.steps, peaks[bf16])
                measure("faceswap original spec", FaceswapOriginal(), 64, [16], run)
    if args.faces:
        for preset in args.presets.split(","):
            cfg = load_config(preset=preset).train
            for workers in (int(w) for w in args.workers.split(",")):
                measure_loader(args.faces, cfg.resolution, cfg.batch_size, workers, 3 * args.steps)


if __name__ == "__main__":
    main()

"""Faceset tools at scale: building the statistics cache, then sort (every method), clean (dry
run) and coverage with the cache warm, on facesets of --sizes faces.

The faces: a 4 s expressive pseudo-video of each of two bundled synthetic people, extracted at the
default 256 px, then copied up to N faces with each copy's pixels shifted in brightness and its
pose changed a little (so hashes, statistics and poses differ as in a real faceset). Timed: wall
clock of the library calls the CLI makes, with --workers processes; a sort is followed by --undo
(not timed) so every run starts from the same names. Median of --runs for the sorts.
Usage: python benchmarks/faceset_tools.py [--sizes 1000,20000] [--runs 3] [--identity-up-to 20000]
"""

from __future__ import annotations

# isort: off
import faceweave  # noqa: F401  first, as in the CLI: it sets OPENBLAS_NUM_THREADS before numpy loads

# isort: on
import argparse
import dataclasses
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from faceweave.assets import load_sample_face
from faceweave.config import FacesetConfig, load_config
from faceweave.extract.run import run_extract
from faceweave.faceset.clean import run_clean
from faceweave.faceset.coverage import run_coverage
from faceweave.faceset.moves import undo_last
from faceweave.faceset.sort import run_sort
from faceweave.faceset.stats import CACHE_NAME, faceset_stats
from faceweave.formats.aligned import Pose, list_face_files, read_aligned_face, write_aligned_face
from faceweave.media.synth import ClipSpec
from faceweave.pseudovideo import TIMELINES, FacePuppet, write_puppet_clip
from faceweave.registries import SORTS
from faceweave.workspace import init_workspace


def base_faces(root: Path) -> list[Path]:
    ws = init_workspace(root / "ws").workspace
    config = load_config(overrides={"extract": {"workers": 2}})
    faces: list[Path] = []
    for side, person in (("src", 0), ("dst", 3)):
        clip = root / f"{side}.mp4"
        spec = ClipSpec(seconds=4.0, fps=25, width=640, height=480, seed=person, audio=False)
        write_puppet_clip(
            clip,
            FacePuppet.from_image(load_sample_face(person)),
            spec,
            person,
            timeline=TIMELINES["expressive"],
        )
        run_extract(config, ws, side, source=clip)
        faces += list_face_files(ws.src_aligned if side == "src" else ws.dst_aligned)
    return faces


def grow(faces: list[Path], folder: Path, count: int) -> None:
    """`count` faces in `folder`: the base faces over and over, each copy a little different."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    loaded = [read_aligned_face(p) for p in faces]
    for k in range(count):
        image, meta = loaded[k % len(loaded)]
        shift = int(rng.integers(-12, 13))
        pixels = np.clip(image.astype(np.int16) + shift, 0, 255).astype(np.uint8)
        pose = Pose(
            meta.pose.yaw + float(rng.normal(0, 8)), meta.pose.pitch + float(rng.normal(0, 5)), meta.pose.roll
        )
        write_aligned_face(folder, pixels, dataclasses.replace(meta, frame_index=k, pose=pose))


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bench_size(faces: list[Path], root: Path, count: int, runs: int, workers: int, identity: bool) -> None:
    folder = root / f"faces_{count}"
    print(f"\n{count} faces: writing ...", flush=True)
    grow(faces, folder, count)
    cfg = FacesetConfig(workers=workers)
    groups = [("meta",), ("meta", "pixels")] + ([("meta", "pixels", "identity")] if identity else [])
    for group in groups:
        seconds = timed(lambda g=group: faceset_stats(folder, g, workers))  # type: ignore[misc]
        print(f"  cache build, {'+'.join(group):22} {seconds:8.1f} s  ({1000 * seconds / count:.1f} ms/face)")
    cache_mb = (folder / CACHE_NAME).stat().st_size / 2**20
    reread = timed(lambda: faceset_stats(folder, ("meta", "pixels"), workers))
    print(f"  cache file: {cache_mb:.1f} MiB; reading it back: {reread:.2f} s")
    for method in SORTS.names():
        if "identity" in SORTS.get(method).needs and not identity:
            continue
        keep = count // 2 if method == "best" else None
        times = []
        for _ in range(runs):
            times.append(timed(lambda m=method, k=keep: run_sort(folder, m, cfg, count=k)))  # type: ignore[misc]
            undo_last(folder)
        listed = ", ".join(f"{t:.2f}" for t in times)
        print(f"  sort --by {method:12} median {statistics.median(times):6.2f} s  (runs: {listed})")
    if not identity:
        cfg = dataclasses.replace(cfg, identity=0)
    print(f"  clean --dry-run          {timed(lambda: run_clean(folder, cfg, dry_run=True)):6.2f} s")
    covered = timed(lambda: run_coverage(folder, folder, 10.0, root / "cov", workers=workers))
    print(f"  coverage (same set twice) {covered:6.2f} s")
    shutil.rmtree(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,20000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--identity-up-to", type=int, default=20000, help="identity only up to this size")
    args = parser.parse_args()
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    print(f"machine: {machine}; workers {args.workers}; median of {args.runs}")
    with tempfile.TemporaryDirectory(prefix="faceweave-faceset-") as tmp:
        root = Path(tmp)
        faces = base_faces(root)
        print(f"base faces: {len(faces)} (256 px PNG)")
        for size in (int(s) for s in args.sizes.split(",")):
            bench_size(faces, root, size, args.runs, args.workers, size <= args.identity_up_to)


if __name__ == "__main__":
    main()

"""Batches for every step, prepared in DataLoader workers.

Batch i is drawn from a generator seeded with (seed, i), so the sequence does not depend on how
many workers prepare it, and a resumed run sees exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, fields
from functools import partial
from itertools import count

import numpy as np
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from faceweave.childproc import quiet_fd_server, shield_worker, signals_held, stop_workers
from faceweave.config import TrainConfig
from faceweave.train.data import Batch, Faceset, balanced_indices, make_batch, sampling_columns
from faceweave.train.expressions import EXPRESSIONS


@dataclass(frozen=True)
class StreamSettings:
    batch_size: int
    seed: int
    warp: bool
    uniform_yaw: bool
    eyes_mouth_weight: float
    rank: int = 0  # each distributed process draws its own batches
    color_transfer: str = "none"  # recolour src samples toward dst
    uniform_expression: bool = False
    expression_aug: float = 0.0  # share of src samples given a random expression
    brow_aug_dst: float = 0.0  # share of dst samples given a brow raise


def stream_settings(cfg: TrainConfig, rank: int = 0) -> StreamSettings:
    """The [train] options the batches depend on, taken by name."""
    shared = {f.name: getattr(cfg, f.name) for f in fields(StreamSettings) if hasattr(cfg, f.name)}
    return StreamSettings(**shared, rank=rank)


def batch_for(step: int, src: Faceset, dst: Faceset, settings: StreamSettings) -> tuple[Batch, Batch]:
    rng = np.random.default_rng(
        [settings.seed, step] if settings.rank == 0 else [settings.seed, step, settings.rank]
    )
    pair = []
    for faceset in (src, dst):
        columns = sampling_columns(faceset, settings.uniform_yaw, settings.uniform_expression)
        if columns:
            indices = balanced_indices(columns, settings.batch_size, rng)
        else:
            indices = rng.integers(0, len(faceset.faces), settings.batch_size)
        recolor = (
            (settings.color_transfer, dst) if faceset is src and settings.color_transfer != "none" else None
        )
        # dst gets brows only: all four warps on dst measured alike on brows, mouth and smile
        # (README, "Acting: random warp off at the end, and brows").
        share, kinds = (
            (settings.expression_aug, EXPRESSIONS) if faceset is src else (settings.brow_aug_dst, ("brow",))
        )
        weight = settings.eyes_mouth_weight
        pair.append(make_batch(faceset, indices, rng, settings.warp, weight, recolor, share, kinds))
    return pair[0], pair[1]


class BatchStream(IterableDataset[tuple[Batch, Batch]]):
    def __init__(self, src: Faceset, dst: Faceset, settings: StreamSettings, start: int) -> None:
        self.src, self.dst, self.settings, self.start = src, dst, settings, start

    def __iter__(self) -> Iterator[tuple[Batch, Batch]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        # DataLoader takes from its workers in turn, so worker k serving steps k, k+n, ... keeps order.
        for step in count(self.start + worker, workers):
            yield batch_for(step, self.src, self.dst, self.settings)


def batch_loader(
    src: Faceset, dst: Faceset, settings: StreamSettings, start: int, workers: int, pin: bool
) -> Iterator[tuple[Batch, Batch]]:
    loader = DataLoader(
        BatchStream(src, dst, settings, start),
        batch_size=None,
        num_workers=workers,
        pin_memory=pin,
        prefetch_factor=4 if workers else None,
        persistent_workers=False,
        worker_init_fn=partial(_init_worker, os.getpid()),
    )
    quiet_fd_server()  # the parent's side of the hand-over, too
    with signals_held():
        return iter(loader)  # starts the workers


def close_loader(batches: Iterator[tuple[Batch, Batch]]) -> None:
    """Stop a loader's workers now, whatever they are doing: they ignore SIGTERM (see childproc), so
    neither DataLoader's own clean-up nor Python's exit could stop one that lingers."""
    workers = list(getattr(batches, "_workers", []))
    shutdown = getattr(batches, "_shutdown_workers", None)
    if shutdown is not None:
        shutdown()  # asks them to finish, and waits a little
    stop_workers(workers)


def _init_worker(parent_pid: int, worker_id: int) -> None:
    shield_worker(parent_pid)

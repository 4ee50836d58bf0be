"""The statistics-based transfers: Reinhard (rct), linear (lct), Monge-Kantorovich (mkl); and none."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.color import ColorTransfer, Image, Mask, Stats, StatsTransfer
from faceweave.color._common import inv_sqrtm, pixels, sqrtm
from faceweave.registries import COLORS

Matrix = npt.NDArray[np.float64]


def _none(source: Image, target: Image, source_mask: Mask | None, target_mask: Mask | None) -> Image:
    return source


COLORS.add(
    "none", "keep the swapped face's own colours", ColorTransfer(_none, training=True), __name__, rank=0
)


def _lab(image: Image) -> Image:
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2LAB), np.float32)


def _measure_in(space: Callable[[Image], Image]) -> Callable[[Image, Mask | None], Stats]:
    def measure(image: Image, mask: Mask | None) -> Stats:
        chosen = pixels(space(image), mask)
        return Stats(chosen.mean(axis=0), np.cov(chosen, rowvar=False) + np.eye(3) * 1e-9)

    return measure


def _apply_with(
    matrix_of: Callable[[Stats, Stats], Matrix], lab: bool
) -> Callable[[Image, Stats, Stats], Image]:
    def apply(image: Image, source: Stats, target: Stats) -> Image:
        """x -> A (x - mu_s) + mu_t, in the transfer's colour space."""
        flat = (_lab(image) if lab else image).reshape(-1, 3).astype(np.float64)
        mapped = ((flat - source.mean) @ matrix_of(source, target).T + target.mean).astype(np.float32)
        mapped = mapped.reshape(image.shape)
        if lab:
            mapped[..., 0] = np.clip(mapped[..., 0], 0, 100)
            mapped = np.asarray(cv2.cvtColor(mapped, cv2.COLOR_LAB2BGR), np.float32)
        return np.clip(mapped, 0.0, 1.0)

    return apply


def _register(
    name: str, help: str, matrix_of: Callable[[Stats, Stats], Matrix], lab: bool, rank: int
) -> None:
    stats = StatsTransfer(_measure_in(_lab if lab else (lambda image: image)), _apply_with(matrix_of, lab))

    def run(source: Image, target: Image, source_mask: Mask | None, target_mask: Mask | None) -> Image:
        return stats.apply(source, stats.measure(source, source_mask), stats.measure(target, target_mask))

    COLORS.add(name, help, ColorTransfer(run, stats, training=True), __name__, rank)


def _reinhard(source: Stats, target: Stats) -> Matrix:
    # Each Lab channel scaled by the ratio of standard deviations.
    return np.diag(np.sqrt(np.diag(target.cov) / np.diag(source.cov)))


def _linear(source: Stats, target: Stats) -> Matrix:
    # Principal axes: whiten the source, colour with the target.
    return sqrtm(target.cov) @ inv_sqrtm(source.cov)


def _monge_kantorovich(source: Stats, target: Stats) -> Matrix:
    # The optimal linear transport between the two Gaussians.
    root, inv_root = sqrtm(source.cov), inv_sqrtm(source.cov)
    return inv_root @ sqrtm(root @ target.cov @ root) @ inv_root


_register("rct", "Reinhard: match mean and spread of each Lab channel", _reinhard, lab=True, rank=1)
_register("lct", "linear: match the colour covariance along its principal axes", _linear, lab=False, rank=2)
_register(
    "mkl",
    "Monge-Kantorovich: the optimal linear map between the colour distributions",
    _monge_kantorovich,
    lab=False,
    rank=3,
)

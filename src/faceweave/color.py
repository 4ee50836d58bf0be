"""Colour transfer: make one face's colours match another's, inside masks.

Used twice: the merger matches the predicted face to the dst face it replaces, and training can
recolour src samples toward dst statistics (DeepFaceLab's ct_mode) so the model does not learn a
colour cast. Images are float32 BGR in [0, 1]; statistics are taken where the mask is above 0.5
and the mapping is applied to the whole image.

The parametric modes (rct, lct, mkl) are split into "measure statistics" and "apply a mapping",
so the merger can smooth the statistics of a track over time and the colour does not flicker.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.float32]
Mask = npt.NDArray[np.float32]
COLOR_MODES = ("none", "rct", "lct", "mkl", "idt", "sot")
PARAMETRIC = ("rct", "lct", "mkl")
# A variance floor (0.005 std) when inverting: a nearly flat source channel must not be blown up.
_FLOOR = 2.5e-5


@dataclass(frozen=True)
class Stats:
    """Mean (3,) and covariance (3, 3) of pixels, in Lab for rct and BGR otherwise."""

    mean: npt.NDArray[np.float64]
    cov: npt.NDArray[np.float64]

    def blend(self, newer: Stats, weight: float) -> Stats:
        """Exponential moving average: `weight` of the newer statistics."""
        return Stats(
            (1 - weight) * self.mean + weight * newer.mean, (1 - weight) * self.cov + weight * newer.cov
        )


def _pixels(image: Image, mask: Mask | None) -> npt.NDArray[np.float64]:
    flat = image.reshape(-1, 3).astype(np.float64)
    if mask is None:
        return flat
    chosen = flat[mask.reshape(-1) > 0.5]
    return chosen if len(chosen) >= 16 else flat  # too small a mask says nothing about colour


def _space(mode: str, image: Image) -> Image:
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2LAB), np.float32) if mode == "rct" else image


def measure(mode: str, image: Image, mask: Mask | None = None) -> Stats:
    pixels = _pixels(_space(mode, image), mask)
    return Stats(pixels.mean(axis=0), np.cov(pixels, rowvar=False) + np.eye(3) * 1e-9)


def _sqrtm(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    values, vectors = np.linalg.eigh(matrix)
    return np.asarray((vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T, np.float64)


def _inv_sqrtm(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    values, vectors = np.linalg.eigh(matrix)
    return np.asarray((vectors / np.sqrt(np.clip(values, _FLOOR, None))) @ vectors.T, np.float64)


def linear_map(mode: str, source: Stats, target: Stats) -> npt.NDArray[np.float64]:
    """The 3x3 matrix A of x -> A (x - mu_s) + mu_t that the mode uses."""
    if mode == "rct":
        # Reinhard: each Lab channel scaled by the ratio of standard deviations.
        return np.diag(np.sqrt(np.diag(target.cov) / np.diag(source.cov)))
    if mode == "lct":
        # Linear (principal-axes) transfer: whiten the source, colour with the target.
        return _sqrtm(target.cov) @ _inv_sqrtm(source.cov)
    if mode == "mkl":
        # Monge-Kantorovich: the optimal linear transport between the two Gaussians.
        root = _sqrtm(source.cov)
        inv_root = _inv_sqrtm(source.cov)
        return inv_root @ _sqrtm(root @ target.cov @ root) @ inv_root
    raise ValueError(f"{mode} is not a parametric colour mode")


def apply_stats(mode: str, image: Image, source: Stats, target: Stats) -> Image:
    """Map `image` (whose statistics are `source`) so its statistics become `target`."""
    matrix = linear_map(mode, source, target)
    pixels = _space(mode, image).reshape(-1, 3).astype(np.float64)
    mapped = ((pixels - source.mean) @ matrix.T + target.mean).astype(np.float32).reshape(image.shape)
    if mode == "rct":
        mapped[..., 0] = np.clip(mapped[..., 0], 0, 100)
        mapped = np.asarray(cv2.cvtColor(mapped, cv2.COLOR_LAB2BGR), np.float32)
    return np.clip(mapped, 0.0, 1.0)


def _random_rotation(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return np.asarray(q * np.sign(np.diag(r)), np.float64)


def _selected(flat: npt.NDArray[np.float64], mask: Mask | None) -> npt.NDArray[np.bool_]:
    chosen = mask.reshape(-1) > 0.5 if mask is not None else np.ones(len(flat), bool)
    return chosen if chosen.sum() >= 16 else np.ones(len(flat), bool)


def _quantiles(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.quantile(values, np.linspace(0, 1, 256))


def _idt(source: Image, target: Image, source_mask: Mask | None, target_mask: Mask | None) -> Image:
    """Iterative distribution transfer (Pitie et al.): in random rotated bases, match each axis's
    1-D distribution by quantiles; repeated, the 3-D distribution converges to the target's."""
    rng = np.random.default_rng(0)
    flat = source.reshape(-1, 3).astype(np.float64)
    chosen, reference = _selected(flat, source_mask), _pixels(target, target_mask)
    for _ in range(12):
        rotation = _random_rotation(rng)
        moved, ref = flat @ rotation, reference @ rotation
        for axis in range(3):
            moved[:, axis] = np.interp(
                moved[:, axis], _quantiles(moved[chosen, axis]), _quantiles(ref[:, axis])
            )
        flat = moved @ rotation.T
    return np.clip(flat, 0, 1).astype(np.float32).reshape(source.shape)


def _sot(source: Image, target: Image, source_mask: Mask | None, target_mask: Mask | None) -> Image:
    """Sliced optimal transport: each step moves every pixel by the mean, over random directions,
    of how far its projection is from where the sorted target projections put it."""
    rng = np.random.default_rng(0)
    flat = source.reshape(-1, 3).astype(np.float64)
    chosen, reference = _selected(flat, source_mask), _pixels(target, target_mask)
    directions = 8
    for _ in range(24):
        step = np.zeros_like(flat)
        for _ in range(directions):
            direction = rng.normal(size=3)
            direction /= np.linalg.norm(direction)
            projected = flat @ direction
            wanted = np.interp(projected, _quantiles(projected[chosen]), _quantiles(reference @ direction))
            step += np.outer(wanted - projected, direction)
        # A random unit direction carries 1/3 of a displacement on average: scale to a full step.
        flat = flat + step * 3 / directions
    return np.clip(flat, 0, 1).astype(np.float32).reshape(source.shape)


def transfer(
    mode: str,
    source: Image,
    target: Image,
    source_mask: Mask | None = None,
    target_mask: Mask | None = None,
) -> Image:
    """`source` recoloured so that its colours inside `source_mask` match `target`'s inside
    `target_mask`."""
    if mode == "none":
        return source
    if mode in PARAMETRIC:
        return apply_stats(
            mode, source, measure(mode, source, source_mask), measure(mode, target, target_mask)
        )
    if mode == "idt":
        return _idt(source, target, source_mask, target_mask)
    if mode == "sot":
        return _sot(source, target, source_mask, target_mask)
    raise ValueError(f"unknown colour transfer mode {mode!r}; choose one of {', '.join(COLOR_MODES)}")

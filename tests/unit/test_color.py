"""Colour transfer: after transfer, the source's statistics inside its mask match the target's."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from faceweave.color import measure, transfer
from faceweave.plugins import PluginError
from faceweave.registries import COLORS

Image = npt.NDArray[np.float32]


def textured(seed: int, tint: tuple[float, float, float], spread: float) -> Image:
    """A smooth random texture around a base colour: enough structure for the modes to bite."""
    rng = np.random.default_rng(seed)
    noise = cv2.resize(
        rng.normal(0, 1, (12, 12, 3)).astype(np.float32), (96, 96), interpolation=cv2.INTER_CUBIC
    )
    mix = noise @ rng.normal(0, 1, (3, 3)).astype(np.float32)  # correlated channels
    return np.clip(np.array(tint, np.float32) + spread * mix, 0.02, 0.98).astype(np.float32)


def disc(size: int = 96) -> npt.NDArray[np.float32]:
    mask = np.zeros((size, size), np.float32)
    cv2.circle(mask, (size // 2, size // 2), size // 3, (1.0,), -1)
    return mask


@pytest.mark.parametrize("mode", [m for m in COLORS.names() if m != "none"])
def test_transfer_matches_mean_and_spread_inside_the_mask(mode: str) -> None:
    source, target, mask = textured(1, (0.3, 0.5, 0.7), 0.05), textured(2, (0.6, 0.45, 0.3), 0.08), disc()
    out = transfer(mode, source, target, mask, mask)
    # rct works in Lab, so its statistics match there; the others match in BGR.
    space = (lambda image: cv2.cvtColor(image, cv2.COLOR_BGR2LAB) / 100.0) if mode == "rct" else (lambda i: i)
    inside = mask > 0.5
    got, want, before = space(out)[inside], space(target)[inside], space(source)[inside]
    assert np.abs(got.mean(0) - want.mean(0)).max() < 0.02
    assert np.abs(got.std(0) - want.std(0)).max() < 0.02
    assert np.abs(before.mean(0) - want.mean(0)).max() > 0.1  # the test would fail without the transfer


@pytest.mark.parametrize("mode", ["lct", "mkl"])
def test_full_covariance_modes_match_the_correlations(mode: str) -> None:
    source, target, mask = textured(3, (0.4, 0.4, 0.4), 0.06), textured(4, (0.5, 0.5, 0.5), 0.06), disc()
    out = transfer(mode, source, target, mask, mask)
    got, want = measure(mode, out, mask).cov, measure(mode, target, mask).cov
    assert np.abs(got - want).max() < 0.1 * np.abs(want).max()


def test_distribution_modes_match_the_histogram() -> None:
    """idt and sot move the whole distribution, not only two moments: quantiles match too."""
    rng = np.random.default_rng(5)
    source = rng.uniform(0.2, 0.4, (64, 64, 3)).astype(np.float32)  # flat histogram
    target = np.clip(rng.normal(0.6, 0.05, (64, 64, 3)), 0, 1).astype(np.float32)  # bell-shaped
    qs = np.linspace(0.05, 0.95, 10)
    for mode in ("idt", "sot"):
        out = transfer(mode, source, target)
        for channel in range(3):
            gap = np.abs(np.quantile(out[..., channel], qs) - np.quantile(target[..., channel], qs)).max()
            assert gap < 0.02, (mode, channel, gap)


def test_none_returns_the_source_and_unknown_mode_is_refused() -> None:
    source = textured(6, (0.5, 0.5, 0.5), 0.05)
    assert transfer("none", source, source * 0.5) is source
    with pytest.raises(PluginError, match="unknown colour transfer 'bogus'; known: none, rct"):
        transfer("bogus", source, source)

"""Procedural occluders with exact masks: hands, bars, glasses, microphones, hair strands, overlays.

Each is drawn as a colour layer and an alpha (1 = hides the face) at any size, from a seeded
generator, so the segmenter's training data and the occlusion test clips come from the same
place and their truth is known pixel for pixel. Everything here is drawn, never photographed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Layer = npt.NDArray[np.float32]  # (S, S, 3) BGR in [0, 1]
Alpha = npt.NDArray[np.float32]  # (S, S) in [0, 1]
SKIN_TONES = (
    (0.36, 0.50, 0.75),
    (0.30, 0.42, 0.62),
    (0.22, 0.32, 0.48),
    (0.15, 0.22, 0.35),
    (0.50, 0.62, 0.85),
)


@dataclass(frozen=True)
class Occluder:
    kind: str
    layer: Layer
    alpha: Alpha  # how much of the face it hides; the label is alpha >= 0.5


def _texture(rng: np.random.Generator, size: int, base: tuple[float, float, float], spread: float) -> Layer:
    """A colour with smooth shading and fine grain, so no occluder is a flat fill."""
    coarse = cv2.resize(
        rng.normal(0, 1, (6, 6, 1)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC
    )
    fine = rng.normal(0, 0.3, (size, size, 1)).astype(np.float32)
    light = 1.0 + spread * (coarse[..., None] if coarse.ndim == 2 else coarse) + 0.05 * fine
    return np.clip(np.array(base, np.float32) * light, 0, 1).astype(np.float32)


def _capsule(alpha: Alpha, a: tuple[float, float], b: tuple[float, float], width: float) -> None:
    cv2.line(alpha, (round(a[0] * 16), round(a[1] * 16)), (round(b[0] * 16), round(b[1] * 16)), (1.0,),
             max(1, round(width)), cv2.LINE_AA, shift=4)  # fmt: skip


def hand(rng: np.random.Generator, size: int) -> Occluder:
    """A palm with four fingers and a thumb, entering from an edge of the picture."""
    alpha = np.zeros((size, size), np.float32)
    scale = size * rng.uniform(0.28, 0.5)
    angle = rng.uniform(0, 2 * math.pi)
    reach = rng.uniform(0.1, 0.45) * size  # how far the palm's centre lies inside the picture
    centre = np.array([size / 2, size / 2]) + (size / 2 - reach + scale * 0.3) * np.array(
        [math.cos(angle), math.sin(angle)]
    )
    inward = -np.array([math.cos(angle), math.sin(angle)])
    side = np.array([-inward[1], inward[0]])
    palm = (centre[0], centre[1])
    cv2.ellipse(alpha, (round(palm[0]), round(palm[1])), (round(scale * 0.45), round(scale * 0.38)),
                math.degrees(angle), 0, 360, (1.0,), -1, cv2.LINE_AA)  # fmt: skip
    spread = rng.uniform(0.0, 0.25)
    for k, length in enumerate((0.75, 0.85, 0.8, 0.62)):
        offset = (k - 1.5) * 0.22 * scale
        bend = inward + side * (k - 1.5) * spread
        bend = bend / np.linalg.norm(bend)
        root = np.asarray(palm) + side * offset + inward * scale * 0.3
        tip = root + bend * length * scale * rng.uniform(0.85, 1.1)
        _capsule(alpha, (root[0], root[1]), (tip[0], tip[1]), scale * 0.17)
    thumb_root = np.asarray(palm) + side * (rng.choice([-1, 1]) * 0.4 * scale)
    thumb_tip = thumb_root + (inward + side * rng.uniform(-1, 1)) * 0.5 * scale
    _capsule(alpha, (thumb_root[0], thumb_root[1]), (thumb_tip[0], thumb_tip[1]), scale * 0.2)
    tone = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]
    tint = tuple(float(np.clip(c * rng.uniform(0.85, 1.15), 0, 1)) for c in tone)
    return Occluder("hand", _texture(rng, size, tint, 0.15), alpha)  # type: ignore[arg-type]


def bars(rng: np.random.Generator, size: int) -> Occluder:
    """One to four parallel bars across the picture (railings, a pole, a scarf, translucent panels)."""
    alpha = np.zeros((size, size), np.float32)
    angle = rng.uniform(0, math.pi)
    direction = np.array([math.cos(angle), math.sin(angle)])
    normal = np.array([-direction[1], direction[0]])
    count = int(rng.integers(1, 5))
    width = size * rng.uniform(0.05, 0.2)
    gap = width * rng.uniform(1.5, 3.5)
    start = rng.uniform(-0.3, 0.3) * size
    strength = 1.0 if rng.random() < 0.7 else rng.uniform(0.55, 0.85)
    for k in range(count):
        centre = np.array([size / 2, size / 2]) + normal * (start + k * gap)
        a, b = centre - direction * size * 1.5, centre + direction * size * 1.5
        _capsule(alpha, (a[0], a[1]), (b[0], b[1]), width)
    base = tuple(float(v) for v in rng.uniform(0.05, 0.95, 3))
    return Occluder("bars", _texture(rng, size, base, 0.2), alpha * strength)  # type: ignore[arg-type]


def glasses(rng: np.random.Generator, size: int) -> Occluder:
    """Frames, bridge and temples opaque; the lenses barely tinted (the eyes show through)."""
    alpha = np.zeros((size, size), np.float32)
    eye_y = size * rng.uniform(0.36, 0.46)
    half = size * rng.uniform(0.17, 0.22)
    rx, ry = size * rng.uniform(0.1, 0.14), size * rng.uniform(0.07, 0.1)
    thick = max(2, round(size * rng.uniform(0.012, 0.03)))
    lenses = np.zeros_like(alpha)
    for sx in (-1, 1):
        centre = (round(size / 2 + sx * half), round(eye_y))
        cv2.ellipse(lenses, centre, (round(rx), round(ry)), 0, 0, 360, (1.0,), -1, cv2.LINE_AA)
        cv2.ellipse(alpha, centre, (round(rx), round(ry)), 0, 0, 360, (1.0,), thick, cv2.LINE_AA)
        temple = (0 if sx < 0 else size - 1, round(eye_y - ry / 2))
        cv2.line(
            alpha, (round(size / 2 + sx * (half + rx)), round(eye_y)), temple, (1.0,), thick, cv2.LINE_AA
        )
    bridge = ((round(size / 2 - half + rx), round(eye_y)), (round(size / 2 + half - rx), round(eye_y)))
    cv2.line(alpha, *bridge, (1.0,), thick, cv2.LINE_AA)
    alpha = np.maximum(alpha, lenses * rng.uniform(0.05, 0.25))
    base = tuple(float(v) for v in rng.uniform(0.0, 0.4, 3))
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-12, 12), 1.0)
    alpha = np.asarray(cv2.warpAffine(alpha, matrix, (size, size)), np.float32)
    return Occluder("glasses", _texture(rng, size, base, 0.1), np.asarray(alpha, np.float32))  # type: ignore[arg-type]


def microphone(rng: np.random.Generator, size: int) -> Occluder:
    """A round head on a handle, from below or the side."""
    alpha = np.zeros((size, size), np.float32)
    head = np.array([size * rng.uniform(0.25, 0.75), size * rng.uniform(0.5, 0.9)])
    radius = size * rng.uniform(0.08, 0.16)
    cv2.circle(alpha, (round(head[0]), round(head[1])), round(radius), (1.0,), -1, cv2.LINE_AA)
    angle = rng.uniform(math.pi * 0.25, math.pi * 0.75)
    end = head + np.array([math.cos(angle), math.sin(angle)]) * size * 1.5
    _capsule(alpha, (head[0], head[1]), (end[0], end[1]), radius * 0.7)
    grey = float(rng.uniform(0.05, 0.6))
    layer = _texture(rng, size, (grey, grey, grey * 1.05), 0.25)
    grid = ((np.indices((size, size)).sum(0) // max(2, size // 40)) % 2).astype(np.float32)
    layer = np.clip(layer * (0.85 + 0.15 * grid[..., None]), 0, 1).astype(np.float32)
    return Occluder("microphone", layer, alpha)


def hair(rng: np.random.Generator, size: int) -> Occluder:
    """A few thick curved strands falling over the forehead and a cheek."""
    alpha = np.zeros((size, size), np.float32)
    x0 = size * rng.uniform(0.15, 0.85)
    for _ in range(int(rng.integers(3, 9))):
        points = []
        x, sway = x0 + rng.normal(0, size * 0.05), rng.normal(0, size * 0.15)
        for t in np.linspace(0, 1, 12):
            points.append(
                (
                    x + sway * math.sin(t * math.pi * rng.uniform(0.5, 1.5)),
                    -size * 0.05 + t * size * rng.uniform(0.35, 0.9),
                )
            )
        for a, b in itertools.pairwise(points):
            _capsule(alpha, a, b, size * rng.uniform(0.015, 0.04))
    alpha = np.asarray(cv2.GaussianBlur(alpha, (0, 0), max(0.6, size / 256)), np.float32)
    base = tuple(
        float(v) for v in rng.uniform(0.02, 0.5) * np.array([0.8, 0.9, 1.0]) * rng.uniform(0.7, 1.2, 3)
    )
    return Occluder("hair", _texture(rng, size, base, 0.3), alpha)  # type: ignore[arg-type]


def overlay(rng: np.random.Generator, size: int) -> Occluder:
    """A semi-transparent panel or caption box: opaque enough to count as in front, or not."""
    alpha = np.zeros((size, size), np.float32)
    x0, y0 = rng.uniform(-0.2, 0.7, 2) * size
    w, h = rng.uniform(0.3, 0.9, 2) * size
    cv2.rectangle(alpha, (round(x0), round(y0)), (round(x0 + w), round(y0 + h)), (1.0,), -1)
    base = tuple(float(v) for v in rng.uniform(0.0, 1.0, 3))
    return Occluder("overlay", _texture(rng, size, base, 0.1), alpha * float(rng.uniform(0.3, 0.95)))  # type: ignore[arg-type]


KINDS: dict[str, Callable[[np.random.Generator, int], Occluder]] = {
    "hand": hand, "bars": bars, "glasses": glasses, "microphone": microphone, "hair": hair,
    "overlay": overlay,
}  # fmt: skip


def random_occluder(rng: np.random.Generator, size: int, kinds: tuple[str, ...] = tuple(KINDS)) -> Occluder:
    return KINDS[kinds[int(rng.integers(len(kinds)))]](rng, size)


def composite(face: npt.NDArray[np.float32], occluder: Occluder) -> npt.NDArray[np.float32]:
    """The face (float BGR in [0, 1]) with the occluder drawn over it."""
    a = occluder.alpha[..., None]
    return (face * (1 - a) + occluder.layer * a).astype(np.float32)


def degrade(image: npt.NDArray[np.float32], rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """Camera-like softness and grain, so the segmenter does not learn crisp edges only."""
    if rng.random() < 0.5:
        image = np.asarray(cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.5)), np.float32)
    if rng.random() < 0.5:
        image = image + rng.normal(0, rng.uniform(0.005, 0.03), image.shape).astype(np.float32)
    return np.clip(image, 0, 1).astype(np.float32)

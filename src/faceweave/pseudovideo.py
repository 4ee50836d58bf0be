"""Pseudo-videos of a still synthetic portrait: pose jitter, a mouth that opens and closes, blinks,
and (in the expressive timeline) smiles, squints and raised brows.

The expression warps are driven by the portrait's own face mesh: lower lip and chin move down
(and the gap between the lips is painted dark), upper eyelids move down onto the lower ones, the
mouth corners move up and out, the brows move up. Every frame's true landmarks and expression
amounts are known, so tests and `faceweave eval` can score against ground truth.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.detectors import open_detector
from faceweave.errors import UserError
from faceweave.media.encode import EncodeSettings, VideoWriter
from faceweave.media.synth import AUDIO_RATE, ClipSpec, frame_times, place, pose_matrix, soft_background, tone
from faceweave.mesh import BROWS, CHIN_POINT, INNER_LOWER, INNER_UPPER, LIDS, MOUTH_CORNERS
from faceweave.records import ImageBGR, as_image, image_hw

Points = npt.NDArray[np.float64]


def _curve(points: Points, xs: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """y of a contour at each x (linear between its points, flat beyond its ends)."""
    order = np.argsort(points[:, 0])
    return np.interp(xs, points[order, 0], points[order, 1]).astype(np.float32)


def _window(xs: npt.NDArray[np.float32], x0: float, x1: float, soft: float) -> npt.NDArray[np.float32]:
    """1 between x0 and x1, falling off as a Gaussian of width `soft` outside."""
    outside = np.maximum(x0 - xs, 0) + np.maximum(xs - x1, 0)
    return np.asarray(np.exp(-(outside**2) / (2 * soft**2)), np.float32)


def jaw_field(shape: tuple[int, int], lm: Points) -> npt.NDArray[np.float32]:
    """Vertical displacement (h, w) that opens the mouth fully (amount 1): everything below the
    lip line drops by 0.4 mouth widths at the centre, less toward the corners, and fades under the
    chin."""
    h, w = shape
    xs = np.arange(w, dtype=np.float32)
    line = (_curve(lm[list(INNER_UPPER)], xs) + _curve(lm[list(INNER_LOWER)], xs)) / 2
    left, right = float(lm[78, 0]), float(lm[308, 0])
    width = right - left
    centre = (left + right) / 2
    lens = np.clip(1 - ((xs - centre) / (width * 0.62)) ** 2, 0, 1) ** 0.6  # an open mouth's outline
    drop = 0.4 * width * lens * _window(xs, left, right, 0.25 * width)
    ys = np.arange(h, dtype=np.float32)[:, None]
    below = np.clip((ys - line[None, :]) / 2.0, 0, 1)
    under_chin = np.exp(-(np.maximum(ys - lm[CHIN_POINT, 1], 0) ** 2) / (2 * (0.3 * width) ** 2))
    return np.asarray(drop[None, :] * below * under_chin, np.float32)


def lid_field(shape: tuple[int, int], lm: Points) -> npt.NDArray[np.float32]:
    """Vertical displacement (h, w) that closes both eyes (amount 1): the upper lid slides down to
    the lower one, the skin between brow and lid stretches with it."""
    h, w = shape
    xs = np.arange(w, dtype=np.float32)
    ys = np.arange(h, dtype=np.float32)[:, None]
    field = np.zeros((h, w), np.float32)
    for upper, lower in LIDS:
        up, low = _curve(lm[list(upper)], xs), _curve(lm[list(lower)], xs)
        x0, x1 = sorted((float(lm[upper[0], 0]), float(lm[upper[-1], 0])))
        opening = np.maximum(low - up, 0) * _window(xs, x0, x1, 0.08 * (x1 - x0))
        reach = np.maximum(0.9 * opening, 1.0)
        ramp = np.clip((ys - (up - reach)[None, :]) / reach[None, :], 0, 1)
        inside = ys < low[None, :]
        field += np.where(inside, ramp, 0) * opening[None, :]
    return field


def _gaussian_blob(
    shape: tuple[int, int], centre: Points, sigma_xy: tuple[float, float]
) -> npt.NDArray[np.float32]:
    h, w = shape
    xs = (np.arange(w, dtype=np.float32) - centre[0]) / sigma_xy[0]
    ys = (np.arange(h, dtype=np.float32) - centre[1]) / sigma_xy[1]
    return np.asarray(np.exp(-0.5 * (ys[:, None] ** 2 + xs[None, :] ** 2)), np.float32)


def smile_field(shape: tuple[int, int], lm: Points) -> npt.NDArray[np.float32]:
    """(h, w, 2) displacement of a full smile (amount 1): each mouth corner, and the cheek around
    it, moves up by 0.16 and out by 0.08 mouth widths."""
    field = np.zeros((*shape, 2), np.float32)
    left, right = lm[MOUTH_CORNERS[0], :2], lm[MOUTH_CORNERS[1], :2]
    width = float(np.linalg.norm(right - left))
    for corner, outward in ((left, -1.0), (right, 1.0)):
        blob = _gaussian_blob(shape, corner, (0.3 * width, 0.3 * width))
        field[..., 0] += blob * outward * 0.08 * width
        field[..., 1] += blob * -0.16 * width
    return field


def brow_field(shape: tuple[int, int], lm: Points) -> npt.NDArray[np.float32]:
    """(h, w) vertical displacement of fully raised brows (amount 1): each brow moves up by 0.45
    of its height above the eye, fading before the eye itself."""
    field = np.zeros(shape, np.float32)
    for brow, (upper, _) in zip(BROWS, LIDS, strict=True):
        points = lm[list(brow), :2]
        gap = float(np.mean(lm[list(upper), 1]) - points[:, 1].mean())
        width = float(np.ptp(points[:, 0]))
        blob = _gaussian_blob(shape, points.mean(axis=0), (0.55 * width, 0.45 * max(gap, 1.0)))
        field += blob * -0.45 * max(gap, 1.0)
    return field


@dataclass(frozen=True)
class Expression:
    mouth_open: float  # 0 closed .. 1 wide open
    blink: float  # 0 open eyes .. 1 closed (a squint is a lasting half-close)
    smile: float = 0.0  # 0 neutral .. 1 full smile
    brow_raise: float = 0.0  # 0 resting .. 1 raised


def _blink(t: float, phase: float, period_s: float = 2.2, length_s: float = 0.25) -> float:
    """A triangular blink of `length_s` once per `period_s`."""
    offset = abs((t / period_s + phase) % 1.0 - 0.5)
    half = length_s / period_s / 2
    return max(0.0, 1.0 - offset / half) if offset < half else 0.0


def expression_at(t: float, seed: int = 0) -> Expression:
    """Mouth opens and closes every 1.6 s; a 0.25 s blink about every 2.2 s."""
    phase = (seed * 0.37) % 1.0
    mouth = 0.5 - 0.5 * math.cos(2 * math.pi * (t / 1.6 + phase))
    return Expression(mouth, _blink(t, phase))


def _pulse(t: float, period_s: float, phase: float, sharpness: float = 2.0) -> float:
    """0..1, raised-cosine bursts once per period, `sharpness` > 1 making them shorter."""
    return float((0.5 - 0.5 * math.cos(2 * math.pi * (t / period_s + phase))) ** sharpness)


def expressive_at(t: float, seed: int = 0) -> Expression:
    """An expressive performance (dst): the mouth opens wide, smiles, squints, raised brows and
    blinks, each on its own period so that no two move together for long."""
    rng = np.random.default_rng(seed)
    ph = rng.uniform(0, 1, 5)
    squint = 0.55 * _pulse(t, 4.3, ph[3], 4.0)
    blink = max(_blink(t, ph[4], 2.9, 0.25), squint)
    return Expression(
        mouth_open=_pulse(t, 2.1, ph[0], 1.5),
        blink=blink,
        smile=_pulse(t, 3.3, ph[1], 1.5),
        brow_raise=_pulse(t, 3.9, ph[2], 2.0),
    )


def calm_at(t: float, seed: int = 0) -> Expression:
    """A calm performance (src, as real src footage often is): a little talking, blinks, no smile."""
    phase = (seed * 0.37) % 1.0
    mouth = 0.25 * (0.5 - 0.5 * math.cos(2 * math.pi * (t / 1.3 + phase)))
    return Expression(mouth, _blink(t, phase, 3.1))


TIMELINES = {"demo": expression_at, "expressive": expressive_at, "calm": calm_at}


class FacePuppet:
    """A portrait and its mesh, with precomputed unit fields for the mouth and the blink."""

    def __init__(self, face: ImageBGR, landmarks_478: Points) -> None:
        self.face = face
        self.landmarks = np.asarray(landmarks_478, np.float64)[:, :2]
        shape = image_hw(face)
        self.jaw = jaw_field(shape, self.landmarks)
        self.lids = lid_field(shape, self.landmarks)
        self.smile = smile_field(shape, self.landmarks)
        self.brows = brow_field(shape, self.landmarks)
        h, w = shape
        self._grid = np.dstack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))

    @classmethod
    def from_image(cls, face: ImageBGR) -> FacePuppet:
        finder = open_detector()
        try:
            faces = finder.find(face)
        finally:
            finder.close()
        if not faces:
            raise UserError("the portrait shows no face the detector can find")
        return cls(face, faces[0].landmarks_478)

    def _field_for(self, expression: Expression) -> npt.NDArray[np.float32]:
        """(h, w, 2) displacement of `expression` (x, y)."""
        dy = expression.mouth_open * self.jaw + expression.blink * self.lids
        dy = dy + expression.brow_raise * self.brows
        field = np.dstack([np.zeros_like(dy), dy])
        if expression.smile:
            field += expression.smile * self.smile
        return field

    def landmarks_for(self, expression: Expression) -> Points:
        """Where the mesh points appear under `expression` (face-image pixels).

        Rendering pulls each output pixel x from x - D(x), so a point p shows at the x with
        x - D(x) = p; a few fixed-point steps x <- p + D(x) find it.
        """
        field = self._field_for(expression)
        h, w = field.shape[:2]
        out = self.landmarks.copy()
        for _ in range(4):
            xi = np.clip(np.round(out[:, 0]).astype(int), 0, w - 1)
            yi = np.clip(np.round(out[:, 1]).astype(int), 0, h - 1)
            out = self.landmarks + field[yi, xi]
        return out

    def render(self, expression: Expression) -> ImageBGR:
        maps = self._grid - self._field_for(expression)
        image = cv2.remap(
            self.face, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        if expression.mouth_open > 0.05:
            moved = self.landmarks_for(expression)
            polygon = np.vstack([moved[list(INNER_UPPER)], moved[list(INNER_LOWER[::-1])]])
            mask = np.zeros(image.shape[:2], np.float32)
            cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], (1.0,), cv2.LINE_AA)
            mask = np.asarray(cv2.GaussianBlur(mask, (0, 0), 1.5), np.float32)[..., None]
            cavity = np.array([30, 25, 70], np.float32)  # dark red-brown, BGR
            image = (image * (1 - mask) + cavity * mask).astype(np.uint8)
        return as_image(image)


@dataclass(frozen=True)
class TruthFrame:
    """Ground truth of one generated frame: the face's landmarks in frame pixels, and why."""

    index: int
    pts_s: float
    landmarks_xy: Points
    face_to_frame: Points
    expression: Expression


Timeline = Callable[[float, int], Expression]


def scene_frames(
    puppets: list[FacePuppet], spec: ClipSpec, seed: int = 0, timeline: Timeline = expression_at
) -> Iterator[tuple[ImageBGR, list[TruthFrame]]]:
    """Frames with the puppets side by side (one column each), each moving and emoting on its own."""
    columns = len(puppets)
    slot_w = spec.width // columns
    backgrounds = [soft_background(p.face, slot_w, spec.height) for p in puppets]
    background = np.hstack(backgrounds)
    if background.shape[1] < spec.width:
        pad = spec.width - background.shape[1]
        background = as_image(cv2.copyMakeBorder(background, 0, 0, 0, pad, cv2.BORDER_REPLICATE))
    for index, t in enumerate(frame_times(spec)):
        frame = background
        truths = []
        for k, puppet in enumerate(puppets):
            expression = timeline(t, seed + k)
            matrix = pose_matrix(image_hw(puppet.face), (slot_w, spec.height), t, seed + k)
            matrix[0, 2] += k * slot_w
            frame = place(puppet.render(expression), frame, matrix)
            marks = puppet.landmarks_for(expression) @ matrix[:, :2].T + matrix[:, 2]
            truths.append(TruthFrame(index, t, marks, matrix, expression))
        yield frame, truths


def puppet_frames(puppet: FacePuppet, spec: ClipSpec, seed: int = 0) -> Iterator[tuple[ImageBGR, TruthFrame]]:
    for frame, truths in scene_frames([puppet], spec, seed):
        yield frame, truths[0]


def write_puppet_clip(
    path: Path,
    puppet: FacePuppet | list[FacePuppet],
    spec: ClipSpec,
    seed: int = 0,
    settings: EncodeSettings = EncodeSettings(crf=18, preset="veryfast"),
    timeline: Timeline = expression_at,
) -> list[list[TruthFrame]]:
    """An expressive pseudo-video (one or several faces) with a tone soundtrack; returns every
    frame's ground truth, one TruthFrame per face."""
    puppets = puppet if isinstance(puppet, list) else [puppet]
    truth: list[list[TruthFrame]] = []
    duration = frame_times(spec)[-1] + 1.0 / spec.fps
    samples = tone(duration, spec.flash_s) if spec.audio else None
    with VideoWriter(path, fps=Fraction(spec.fps), settings=settings, audio_samples=samples,
                     audio_rate=AUDIO_RATE) as writer:  # fmt: skip
        for frame, frame_truths in scene_frames(puppets, spec, seed, timeline):
            writer.write(frame, frame_truths[0].pts_s)
            truth.append(frame_truths)
        writer.close()
    return truth

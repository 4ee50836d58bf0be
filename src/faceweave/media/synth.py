"""Generated media for tests, benchmarks and the demo: known motion, known sound, no real people.

`pattern_frame` is textured noise that moves (realistic work for a codec, unlike flat colour);
`pose_jitter_frame` moves a bundled synthetic portrait smoothly, as a pseudo-video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.media.encode import EncodeReport, EncodeSettings, VideoWriter
from faceweave.records import ImageBGR, as_image, image_hw

AUDIO_RATE = 48000
Affine = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ClipSpec:
    """A generated clip: `flash_s` lists times of a white frame and, in the audio, a beep."""

    seconds: float = 2.0
    fps: int = 25
    width: int = 320
    height: int = 240
    rotation_deg: int = 0
    vfr: bool = False
    audio: bool = True
    flash_s: tuple[float, ...] = ()
    seed: int = 0


def noise_texture(width: int, height: int, seed: int) -> ImageBGR:
    """Multi-scale coloured noise, twice the frame size so that it can pan."""
    rng = np.random.default_rng(seed)
    tex = np.zeros((height * 2, width * 2, 3), np.float32)
    for scale in (1, 4, 16):
        small = rng.random((height * 2 // scale + 1, width * 2 // scale + 1, 3), dtype=np.float32)
        tex += cv2.resize(small, (width * 2, height * 2), interpolation=cv2.INTER_CUBIC)
    return np.clip(tex / 3.0 * 255.0, 0, 255).astype(np.uint8)


def pattern_frame(texture: ImageBGR, width: int, height: int, t: float) -> ImageBGR:
    """The texture panned along a smooth path, with a bright disc moving across it."""
    x = int((math.sin(t * 0.9) * 0.5 + 0.5) * (texture.shape[1] - width))
    y = int((math.cos(t * 0.7) * 0.5 + 0.5) * (texture.shape[0] - height))
    frame = texture[y : y + height, x : x + width].copy()
    cx = int(width * (0.5 + 0.35 * math.sin(t * 2.0)))
    cy = int(height * (0.5 + 0.35 * math.cos(t * 1.3)))
    cv2.circle(frame, (cx, cy), max(4, min(width, height) // 10), (40, 200, 255), -1, cv2.LINE_AA)
    return frame


def frame_times(spec: ClipSpec) -> list[float]:
    """Presentation times: regular, or (vfr) alternating short and long gaps."""
    count = round(spec.seconds * spec.fps)
    if not spec.vfr:
        return [i / spec.fps for i in range(count)]
    times, t = [], 0.0
    for i in range(count):
        times.append(round(t, 4))
        t += (0.5 if i % 3 else 2.0) / spec.fps
    return times


def tone(seconds: float, flash_s: tuple[float, ...], rate: int = AUDIO_RATE) -> npt.NDArray[np.float32]:
    """A quiet 220 Hz hum with a loud 1 kHz beep of 40 ms at each time in `flash_s`; shape (1, n)."""
    t = np.arange(round(seconds * rate)) / rate
    signal = 0.05 * np.sin(2 * np.pi * 220 * t)
    for start in flash_s:
        on = (t >= start) & (t < start + 0.04)
        signal[on] += 0.8 * np.sin(2 * np.pi * 1000 * t[on])
    return np.asarray(signal, dtype=np.float32)[None, :]


def write_pattern_clip(path: Path, spec: ClipSpec, settings: EncodeSettings = EncodeSettings(
        crf=20, preset="veryfast")) -> EncodeReport:  # fmt: skip
    """Write a clip per `spec`; frames at flash times are white (the sync marker)."""
    times = frame_times(spec)
    texture = noise_texture(spec.width, spec.height, spec.seed)
    duration = times[-1] + 1.0 / spec.fps
    samples = tone(duration, spec.flash_s) if spec.audio else None
    flash_frames = {min(range(len(times)), key=lambda i: abs(times[i] - s)) for s in spec.flash_s}
    with VideoWriter(
        path, fps=Fraction(spec.fps), settings=settings, audio_samples=samples,
        audio_rate=AUDIO_RATE, rotation_deg=spec.rotation_deg,
    ) as writer:  # fmt: skip
        for i, t in enumerate(times):
            frame = pattern_frame(texture, spec.width, spec.height, t)
            if i in flash_frames:
                frame[:] = 255
            writer.write(frame, t)
        return writer.close()


def soft_background(face: ImageBGR, width: int, height: int) -> ImageBGR:
    """The portrait stretched over the frame and heavily blurred: no hard edge around the face."""
    cover = cv2.resize(face, (width, height), interpolation=cv2.INTER_AREA)
    return as_image(cv2.GaussianBlur(cover, (0, 0), sigmaX=max(width, height) / 20))


def pose_matrix(face_hw: tuple[int, int], frame_wh: tuple[int, int], t: float, seed: int = 0) -> Affine:
    """Face image -> frame: the portrait centred, rolled, scaled and shifted along smooth paths."""
    rng = np.random.default_rng(seed)
    phases = rng.uniform(0, 2 * math.pi, 4)
    (fh, fw), (width, height) = face_hw, frame_wh
    roll = 8.0 * math.sin(1.1 * t + phases[0])
    scale = 1.0 + 0.06 * math.sin(0.7 * t + phases[1])
    dx = 0.05 * width * math.sin(0.9 * t + phases[2])
    dy = 0.04 * height * math.sin(1.3 * t + phases[3])
    base = min(width, height) * 0.8 / fh * scale
    matrix = cv2.getRotationMatrix2D((fw / 2, fh / 2), roll, base)
    matrix[0, 2] += width / 2 - fw / 2 + dx
    matrix[1, 2] += height / 2 - fh / 2 + dy
    return np.asarray(matrix, np.float64)


def place(face: ImageBGR, background: ImageBGR, matrix: Affine) -> ImageBGR:
    """`face` warped by `matrix` over a copy of `background`."""
    height, width = background.shape[:2]
    return as_image(cv2.warpAffine(
        face, matrix, (width, height), dst=background.copy(), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_TRANSPARENT,
    ))  # fmt: skip


def pose_jitter_frame(face: ImageBGR, background: ImageBGR, t: float, seed: int = 0) -> ImageBGR:
    """A portrait over `background`, moved by `pose_matrix` at time `t`."""
    height, width = background.shape[:2]
    return place(face, background, pose_matrix(image_hw(face), (width, height), t, seed))


def write_face_clip(
    path: Path, face: ImageBGR, spec: ClipSpec, settings: EncodeSettings = EncodeSettings()
) -> EncodeReport:
    """A pseudo-video of one synthetic face with smooth pose jitter and a tone soundtrack."""
    times = frame_times(spec)
    samples = tone(times[-1] + 1.0 / spec.fps, spec.flash_s) if spec.audio else None
    with VideoWriter(
        path, fps=Fraction(spec.fps), settings=settings, audio_samples=samples,
        audio_rate=AUDIO_RATE,
    ) as writer:  # fmt: skip
        background = soft_background(face, spec.width, spec.height)
        for t in times:
            writer.write(pose_jitter_frame(face, background, t, spec.seed), t)
        return writer.close()

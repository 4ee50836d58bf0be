"""An invisible watermark in every swapped face, read back from a video or a picture by face
alignment.

Where: the canonical face, a "full" aligned crop of CANON px made from the face's landmarks. The
merger finds the landmarks of every face it pastes on the merged frame, with the mesh `verify`
uses (merge/placement.py); `verify` finds them again after the face detector, so the mark
follows the face through scaling, cropping and small shifts.

Two marks, both smooth random +-1 fields on chip lattices inside an ellipse on the face, added to
the luminance:
- The moving mark: a sync on a GRID x GRID lattice (coarse chips survive downscaling) plus one
  pattern per payload bit on a finer BIT_GRID lattice, AMPLITUDE levels in all, its sign flipped
  on every frame (frame index parity). Differences of consecutive aligned frames cancel the face
  itself, which barely changes from one frame to the next, and double the mark; a mark that
  stayed the same on every frame drowned in the face (benchmarks/watermark_study.py).
- The still mark: a sync alone on a STILL_GRID lattice of 2 px chips, about STILL_AMPLITUDE
  levels but weaker on smooth skin and stronger where the face has fine detail of its own (see
  still_field), the same on every frame, so that one picture (a single frame saved as JPEG)
  shows it. The reader evens out the face's own detail (eyes, brows, lips) before correlating.

Deciding: the aligned faces are band-passed and correlated with the sync (and bits) and DECOYS
other random patterns from which the sync and bit directions are projected out. The decoys give
the spread of a correlation on this very clip when no mark is there, frame-to-frame dependence
included; a score is the sync's mean correlation in units of that spread. The moving score is
sign-free because a clip may start on an odd frame; the still one is one-sided. THRESHOLD keeps
each mark's false-positive rate under 1e-6 (Student t with DECOYS - 1 degrees of freedom;
tested). Bits are the signs of their amplitudes, unmixed by least squares.
"""

from __future__ import annotations

import binascii
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.extract.transform import frame_to_face
from faceweave.geometry import Affine, invert, region_around

CANON = 128
GRID = 16
BIT_GRID = 32
BITS = 64
DECOYS = 255
AMPLITUDE = 3.75
THRESHOLD = 6.5
# The sync's part of the moving mark's amplitude; the bits share the rest. Chosen on 20 clips
# after a 50% downscale and crf 28 (benchmarks/provenance.py): at 3.5 levels and 0.8 the lowest
# sync score was 6.6, at 3.75 and 0.85 it is 7.8, and the payload still reads after crf 23.
SYNC_SHARE = 0.85
# Offsets (canonical px) at which a picture's still mark is looked for: -3 to 3 in half pixels.
STILL_SHIFTS = tuple((dy / 2, dx / 2) for dy in range(-6, 7) for dx in range(-6, 7))
STILL_GRID = 64
# 2.0 missed 7 of 240 JPEG q75 frames of trained-model swaps (lowest 5.8); ColorVideoVDP rates 2.4
# 0.06 JOD more visible than 2.0 (benchmarks/visibility.py), 2.8 another 0.08.
STILL_AMPLITUDE = 2.4
FORMAT_VERSION = 1
TOOL_ID = 0xFAC  # 12 bits naming faceweave in the payload
_SEED = 0x6661636577656176

Field = npt.NDArray[np.float32]
Landmarks = npt.NDArray[np.float64]


def _check(message: int) -> int:
    """CRC-16 (CCITT) of the 48-bit message."""
    return binascii.crc_hqx(message.to_bytes(6, "big"), 0)


def new_payload() -> int:
    """64 bits: format version (4), tool id (12), a random id of this run (32), and a CRC-16 of
    those 48, so a reader can tell a correctly read payload from one with flipped bits."""
    message = (FORMAT_VERSION << 44) | (TOOL_ID << 32) | secrets.randbits(32)
    return (message << 16) | _check(message)


def payload_intact(payload: int) -> bool:
    return _check(payload >> 16) == payload & 0xFFFF


def describe_payload(payload: int) -> str:
    version, tool, run = payload >> 60, (payload >> 48) & 0xFFF, (payload >> 16) & 0xFFFFFFFF
    who = "faceweave" if tool == TOOL_ID else f"unknown tool {tool:#05x}"
    return f"{payload:016x} (format {version}, {who}, run {run:08x})"


@cache
def face_region() -> Field:
    """An ellipse over eyes, nose, cheeks and mouth of the canonical face, soft-edged."""
    mask = np.zeros((CANON, CANON), np.float32)
    centre, axes = (CANON // 2, int(CANON * 0.56)), (int(CANON * 0.3), int(CANON * 0.36))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, (1.0,), -1)
    return np.asarray(cv2.GaussianBlur(mask, (0, 0), sigmaX=CANON / 40), np.float32)


def make_patterns(grid: int, count: int = 1 + BITS + DECOYS, seed: int = _SEED) -> Field:
    """(count, CANON, CANON) smooth random +-1 fields on a grid x grid chip lattice, zero-mean and
    of unit RMS in the face region; the same for every call with the same seed."""
    rng = np.random.default_rng(seed)
    region = face_region()
    out = np.empty((count, CANON, CANON), np.float32)
    for k in range(count):
        chips = rng.choice(np.array([-1.0, 1.0], np.float32), size=(grid, grid))
        field = cv2.resize(chips, (CANON, CANON), interpolation=cv2.INTER_LINEAR) * region
        field -= region * (field.sum() / region.sum())
        out[k] = field / np.sqrt((field**2).sum() / region.sum())
    return out


@cache
def patterns() -> Field:
    """Sync, bits, decoys of the sync, decoys of the bits: (1 + 2 BITS + DECOYS, CANON, CANON).
    The bits are on a finer lattice than the sync: on GRID there are barely more chips in the
    region than patterns, and 64 patterns there overlap too much to be told apart."""
    coarse = make_patterns(GRID)
    fine = make_patterns(BIT_GRID, 2 * BITS, seed=_SEED + 2)
    # The bits are made blind to the sync as the reader sees it (band-passed, in the region): the
    # sync's score then does not swing with the payload.
    sync = band_pass(coarse[0]) * face_region()
    for bit in fine[:BITS]:
        bit -= coarse[0] * float((band_pass(bit) * face_region() * sync).sum() / (sync * sync).sum())
    return np.concatenate([coarse[:1], fine[:BITS], coarse[1 + BITS :], fine[BITS:]])


@cache
def still_patterns() -> Field:
    """The still mark's sync and its decoys: (1 + DECOYS, CANON, CANON), 2 px chips."""
    return make_patterns(STILL_GRID, 1 + DECOYS, seed=_SEED + 1)


def band_pass(gray: Field) -> Field:
    """Keeps the chips' scale; drops the face's broad shading and its finest edges."""
    fine = cv2.GaussianBlur(gray, (0, 0), sigmaX=1.5)
    return np.asarray(fine - cv2.GaussianBlur(gray, (0, 0), sigmaX=4.0), np.float32)


def fine_pass(gray: Field) -> Field:
    """The still mark's band: the finest detail, where a face has little but edges; each pixel is
    then divided by its neighbourhood's level, so eyes, brows and lips do not outvote the skin."""
    band = fine_band(gray)
    return np.asarray(band / (_local_level(band) + 0.5), np.float32)


def _local_level(band: Field) -> Field:
    return np.asarray(np.sqrt(cv2.GaussianBlur(band * band, (0, 0), sigmaX=3.0)), np.float32)


def as_read(stack: Field, signals: int = 1 + BITS, bands: Callable[[Field], Field] = band_pass,
            ) -> npt.NDArray[np.float64]:  # fmt: skip
    """Patterns as the reader sees them: band-passed, in the region, flattened, unit-norm, with
    the first `signals` (sync and bits) directions removed from the decoys (else a strong mark
    leaks into them and caps the score)."""
    flat = np.stack([bands(p) * face_region() for p in stack]).reshape(len(stack), -1)
    flat = flat.astype(np.float64)
    basis, _ = np.linalg.qr(flat[:signals].T)
    decoys = flat[signals:]
    flat[signals:] = decoys - (decoys @ basis) @ basis.T
    return np.asarray(flat / np.linalg.norm(flat, axis=1, keepdims=True), np.float64)


@cache
def detector_patterns() -> npt.NDArray[np.float64]:
    return as_read(patterns())


@cache
def still_detector_patterns() -> npt.NDArray[np.float64]:
    # Read with the plain band: the reader's local levels come from the picture, not the pattern.
    return as_read(still_patterns(), signals=1, bands=fine_band)


def fine_band(gray: Field) -> Field:
    return np.asarray(cv2.GaussianBlur(gray, (0, 0), 0.4) - cv2.GaussianBlur(gray, (0, 0), 1.2), np.float32)


def still_field(gray: Field) -> Field:
    """The mark every frame carries (unchanged where the face is), in luminance levels, for a
    canonical face `gray`: STILL_AMPLITUDE where the face's own fine detail has a local RMS of
    3 levels, down to 0.3 of it on smooth skin (where 2 px grain shows) and up to 2.5 times in
    the eyes, brows, lips and hair line (where detail hides it)."""
    strength = np.clip(_local_level(fine_band(gray)) / 3.0, 0.3, 2.5)
    return np.asarray(STILL_AMPLITUDE * strength * still_patterns()[0], np.float32)


def mark_field(payload: int) -> Field:
    """The signal added to an even frame's canonical face, in luminance levels (odd: negated)."""
    stack = patterns()
    bits = np.array([1.0 if payload >> (BITS - 1 - i) & 1 else -1.0 for i in range(BITS)], np.float32)
    message = np.tensordot(bits, stack[1 : 1 + BITS], axes=1) / np.sqrt(BITS)
    sync = AMPLITUDE * SYNC_SHARE * stack[0]
    return np.asarray(sync + AMPLITUDE * math.sqrt(1 - SYNC_SHARE**2) * message, np.float32)


@cache
def _support() -> npt.NDArray[np.float64]:
    """The corners of the canonical box outside which every pattern is zero: about 60% of the
    square, and so of the embedding's work."""
    ys, xs = np.nonzero(face_region() > 1e-3)
    x0, y0, x1, y1 = xs.min() - 0.5, ys.min() - 0.5, xs.max() + 0.5, ys.max() + 0.5
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def embed(image: npt.NDArray[np.uint8], landmarks: Landmarks, field: Field, frame_index: int,
          coverage: npt.NDArray[np.float32]) -> None:  # fmt: skip
    """Add the mark (the still one plus `field`, negated on odd frames) to one face of `image` in
    place, only where `coverage` (the pasted face's mask in frame pixels) lets it: the background
    is never touched."""
    to_canon = frame_to_face(landmarks, "full", CANON)
    to_frame = invert(to_canon)
    height, width = image.shape[:2]
    region = region_around(_support() @ to_frame[:, :2].T + to_frame[:, 2], width, height, pad=1)
    if region.empty:
        return
    rows, cols = slice(region.y0, region.y1), slice(region.x0, region.x1)
    sign = -1.0 if frame_index % 2 else 1.0
    both = still_field(_canonical_gray(image, to_canon)) + sign * field
    shifted = to_frame.copy()
    shifted[:, 2] -= (region.x0, region.y0)
    # Cubic: linear costs half as much but blurs the still mark's 2 px chips where the face is
    # about CANON px wide (360p), and took a fifth off its score on the demo.
    size = (region.x1 - region.x0, region.y1 - region.y0)
    placed = cv2.warpAffine(both, shifted, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT)
    delta = cv2.multiply(placed, coverage[rows, cols])
    # One saturating, rounding pass in OpenCV: a float copy of the patch in numpy cost 4 ms a face.
    image[rows, cols] = cv2.add(image[rows, cols], cv2.merge([delta, delta, delta]), dtype=cv2.CV_8U)


def canonical_gray(image: npt.NDArray[np.uint8], landmarks: Landmarks) -> Field:
    """The luminance of the canonical face."""
    return _canonical_gray(image, frame_to_face(landmarks, "full", CANON))


def _canonical_gray(image: npt.NDArray[np.uint8], to_canon: Affine) -> Field:
    size = (CANON, CANON)
    crop = cv2.warpAffine(image, to_canon, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), np.float32)


def canonical_face(gray: Field) -> Field:
    """The canonical face in the moving mark's band, weighted by the mark's region."""
    return np.asarray(band_pass(gray) * face_region(), np.float32)


def still_correlations(gray: Field) -> npt.NDArray[np.float64]:
    """Correlations of one canonical face with the still sync and its decoys: (1 + DECOYS,)."""
    face = (fine_pass(gray) * face_region()).reshape(-1).astype(np.float64)
    return np.asarray(still_detector_patterns() @ face / (np.linalg.norm(face) + 1e-9))


def shifted_still_correlations(gray: Field) -> npt.NDArray[np.float64]:
    """still_correlations at each of STILL_SHIFTS offsets of the face: (len(STILL_SHIFTS), 1 +
    DECOYS). A reader's landmarks, found on a re-encoded, rescaled or JPEG copy, can sit a pixel
    or so from where the merger found them, which is a whole chip of the still mark."""
    band = fine_pass(gray)
    faces = np.stack([_shifted(band, dy, dx) * face_region() for dy, dx in STILL_SHIFTS])
    faces = faces.reshape(len(STILL_SHIFTS), -1).astype(np.float64)
    faces /= np.linalg.norm(faces, axis=1, keepdims=True) + 1e-9
    return np.asarray(faces @ still_detector_patterns().T, np.float64)


def decide_still_shifted(gray: Field) -> Detection:
    """The still mark of one picture's face at the best of STILL_SHIFTS; the threshold test is
    then made len(STILL_SHIFTS) times, which multiplies the false-positive bound by as much."""
    return max((decide_still([row]) for row in shifted_still_correlations(gray)), key=lambda d: d.score)


def _shifted(image: Field, dy: float, dx: float) -> Field:
    move = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]], np.float32)
    out = cv2.warpAffine(image, move, (CANON, CANON), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return np.asarray(out, np.float32)


def pair_correlations(previous: Field, current: Field, frame_index: int) -> npt.NDArray[np.float64]:
    """Correlations of one frame-to-frame difference with every pattern, sign-aligned to even
    frames: (1 + BITS + DECOYS,)."""
    difference = (current - previous).reshape(-1).astype(np.float64)
    sign = -1.0 if frame_index % 2 else 1.0
    return np.asarray(sign * (detector_patterns() @ difference) / (np.linalg.norm(difference) + 1e-9))


@dataclass(frozen=True)
class Detection:
    found: bool
    score: float  # |sync| in units of the no-mark spread; found above THRESHOLD
    payload: int | None
    weakest_bit: float  # the least certain bit, in the same units
    samples: int  # frame pairs (moving mark) or frames (still mark) read


def _score(sync: float, decoys: npt.NDArray[np.float64]) -> float:
    """The sync's mean correlation in units of the decoys' spread, signed."""
    return float((sync - decoys.mean()) / (decoys.std(ddof=1) + 1e-12))


@cache
def _unmixing() -> npt.NDArray[np.float64]:
    """Least squares from the sync's and bits' correlations to their amplitudes: the patterns
    overlap a little once band-passed, and 64 small overlaps add up to a misread bit."""
    signals = detector_patterns()[: 1 + BITS]
    return np.asarray(np.linalg.inv(signals @ signals.T), np.float64)


def decide_still(rows: list[npt.NDArray[np.float64]]) -> Detection:
    """The still mark over one or more frames: its sign is known, so the test is one-sided."""
    if not rows:
        return Detection(False, 0.0, None, 0.0, 0)
    mean = np.stack(rows).mean(axis=0)
    signed = _score(mean[0], mean[1:])
    return Detection(signed > THRESHOLD, signed, None, 0.0, len(rows))


def _standardised(mean: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A sync's and its decoys' correlations (sync first) in units of the decoys' spread."""
    decoys = mean[1:]
    return np.asarray((mean - decoys.mean()) / (decoys.std(ddof=1) + 1e-12), np.float64)


def combined_score(pairs: list[npt.NDArray[np.float64]], stills: list[npt.NDArray[np.float64]]) -> float:
    """Both marks' evidence added up (Stouffer's sum), for a clip where each alone is weak (a
    small face, heavy compression). Decoy k of one mark is paired with decoy k of the other, so
    the sum's no-mark spread is measured, not assumed; the moving sign is taken from its sync,
    which at most doubles the false-positive rate."""
    if len(pairs) < 2 or not stills:
        return 0.0
    moving_mean = np.stack(pairs).mean(axis=0)
    moving = _standardised(np.concatenate([moving_mean[:1], moving_mean[1 + BITS : 1 + BITS + DECOYS]]))
    still = _standardised(np.stack(stills).mean(axis=0))
    both = math.copysign(1.0, moving[0]) * moving + still
    return _score(both[0], both[1:])


def decide(rows: list[npt.NDArray[np.float64]]) -> Detection:
    if len(rows) < 2:
        return Detection(False, 0.0, None, 0.0, len(rows))
    mean = np.stack(rows).mean(axis=0)
    signed = _score(mean[0], mean[1 + BITS : 1 + BITS + DECOYS])
    score = abs(signed)
    unmixing = _unmixing()
    amplitudes = (unmixing @ mean[: 1 + BITS])[1:] * math.copysign(1.0, signed)  # odd first frame
    bit_noise = mean[1 + BITS + DECOYS :].std(ddof=1) * np.sqrt(np.diag(unmixing)[1:]) + 1e-12
    bits = amplitudes / bit_noise
    found = score > THRESHOLD
    weakest = float(np.abs(bits).min())
    payload = corrected_payload(bits) if found else None
    return Detection(found, score, payload, weakest, len(rows))


# Bits a reader may flip to make the CRC check out: the least certain ones only. Each of the
# 2**CHASE_BITS tries passes a wrong read with odds 2**-16, so a garbled payload is taken for a
# good one at most 2**(CHASE_BITS - 16) of the time (1 in 1,000 for 6).
CHASE_BITS = 6


def corrected_payload(bits: npt.NDArray[np.float64]) -> int | None:
    """The payload from signed bit scores (most significant first): as read when its CRC checks
    out, else with the fewest and least certain of the CHASE_BITS weakest bits flipped that make
    it check out (Chase decoding), else None."""
    read = sum(1 << (BITS - 1 - i) for i, b in enumerate(bits) if b > 0)
    weakest = np.argsort(np.abs(bits))[:CHASE_BITS]
    tries = sorted(range(1 << CHASE_BITS), key=lambda m: sum(abs(bits[weakest[j]]) for j in _members(m)))
    for mask in tries:
        candidate = read
        for j in _members(mask):
            candidate ^= 1 << (BITS - 1 - int(weakest[j]))
        if payload_intact(candidate):
            return candidate
    return None


def _members(mask: int) -> list[int]:
    return [j for j in range(CHASE_BITS) if mask >> j & 1]


def student_t_tail(threshold: float, dof: int) -> float:
    """P(T > threshold) for Student's t with `dof` degrees of freedom (Simpson's rule on the
    density, so no scipy is needed)."""
    log_norm = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)

    def density(t: float) -> float:
        return math.exp(log_norm - (dof + 1) / 2 * math.log1p(t * t / dof))

    upper, steps = threshold + 100.0, 100_000
    h = (upper - threshold) / steps
    inner = sum((4 if i % 2 else 2) * density(threshold + i * h) for i in range(1, steps))
    return (density(threshold) + inner + density(upper)) * h / 3

"""From observations to scores: per-track series, every metric for the result and for the codec
floor (dst re-encoded, scored as if it were a result), verdicts against documented thresholds,
and the worst frame of each metric. Pure: observations in, records out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from faceweave.quality import metrics as m
from faceweave.quality.features import Features
from faceweave.quality.observe import FaceObservation, Observations, Reading
from faceweave.quality.pixels import SEAM_RINGS_IOD, psnr

Array = npt.NDArray[np.float64]
CANDIDATES = ("result", "floor")
# A face counts as swapped when it differs from dst, inside its hull, by more than this many
# 8-bit levels on average; re-encoding alone changes it by about 1.
SWAPPED_LEVELS = 4.0
# A mesh point counts as skin when it lies on skin in at least this share of a track's frames.
SKIN_SHARE = 0.8


@dataclass(frozen=True)
class Row:
    """One line of the summary: a metric, its threshold and which way is better."""

    key: str
    group: str
    label: str
    better: str  # ">=" or "<="
    threshold: float
    unit: str = ""


ROWS = (
    Row("retrieval", "identity", "identity retrieval (closer to src)", ">=", 0.95),
    Row("to_src", "identity", "distance to src centroid", "<=", 0.6),
    Row("mouth_corr", "performance", "mouth-opening correlation", ">=", 0.8),
    Row("eye_corr", "performance", "eye-opening correlation", ">=", 0.7),
    Row("smile_corr", "performance", "smile correlation", ">=", 0.7),
    Row("brow_corr", "performance", "brow-raise correlation", ">=", 0.7),
    Row("expression_error", "performance", "expression landmark error", "<=", 3.0, "% IOD"),
    Row("pose_error", "performance", "head pose error, offset removed", "<=", 1.5, "deg"),
    Row("gaze_error", "performance", "gaze error, offset removed", "<=", 0.05, "eye widths"),
    Row("jitter_x_floor", "stability", "landmark jitter added", "<=", 1.5, "x floor"),
    Row("flicker_x_floor", "stability", "flicker added", "<=", 2.0, "x floor"),
    Row("skin_delta_e", "blend", "skin colour difference", "<=", 3.0, "dE"),
    Row("seam_x_dst", "blend", "seam across the outline", "<=", 1.2, "x dst"),
    Row("sharpness_x_dst", "blend", "sharpness of the face", ">=", 0.5, "x dst"),
    Row("psnr_outside", "untouched", "PSNR outside the face", ">=", 35.0, "dB"),
    Row("swapped_share", "untouched", "dst faces swapped", ">=", 0.95),
    Row("face_found_share", "untouched", "result faces the mesh finds", ">=", 0.95),
)
# Per-frame series of each candidate, with the direction that is worse (for the worst frames).
FRAME_SERIES = (
    ("mouth", "max"),
    ("eyes", "max"),
    ("smile", "max"),
    ("brows", "max"),
    ("expression", "max"),
    ("pose", "max"),
    ("jitter", "max"),
    ("flicker", "max"),
    ("skin_delta_e", "max"),
    ("seam", "max"),
    ("sharpness", "min"),
)
# (per-frame series, feature, correlation row) of the four expression signals.
SIGNALS = (
    ("mouth", "mouth_open", "mouth_corr"),
    ("eyes", "eye_open", "eye_corr"),
    ("smile", "smile", "smile_corr"),
    ("brows", "brow_raise", "brow_corr"),
)


def verdict(row: Row, value: float | None) -> str:
    if value is None or np.isnan(value):
        return "n/a"
    ok = value >= row.threshold if row.better == ">=" else value <= row.threshold
    return "ok" if ok else "poor"


@dataclass(frozen=True)
class TrackSeries:
    """One track's readings as arrays over its frames (first..last), NaN where missing."""

    track: int
    frame_indices: npt.NDArray[np.int64]
    features: dict[str, Array]  # stream -> (T, 9)
    expression: dict[str, Array]  # stream -> (T, k, 2)
    stable: dict[str, Array]  # stream -> (T, 17, 2)
    lightness: dict[str, Array]  # stream -> (T, 478)
    skin_lab: dict[str, Array]  # stream -> (T, 3)
    seam: dict[str, Array]
    detail: dict[str, Array]
    iod: Array
    skin_points: npt.NDArray[np.bool_]
    difference: dict[str, Array]  # candidate -> mean |candidate - dst| in the hull


def _reading(observation: FaceObservation, stream: str) -> Reading:
    reading: Reading = getattr(observation, stream)
    return reading


def _fill(rows: npt.NDArray[np.int64], values: Sequence[Array | None], shape: tuple[int, ...]) -> Array:
    out = np.full((int(rows.max()) + 1 if len(rows) else 0, *shape), np.nan)
    for row, value in zip(rows, values, strict=True):
        if value is not None:
            out[row] = value
    return out


def track_series(observations: list[FaceObservation]) -> TrackSeries:
    """The readings of one track's observations as series."""
    first = min(o.frame_index for o in observations)
    rows = np.array([o.frame_index - first for o in observations], np.int64)
    streams = ("dst", *CANDIDATES)

    def gather(pick: Callable[[Reading], Array | None], shape: tuple[int, ...]) -> dict[str, Array]:
        return {s: _fill(rows, [pick(_reading(o, s)) for o in observations], shape) for s in streams}

    def feature_array(r: Reading) -> Array | None:
        return None if r.features is None else r.features.as_array()

    k = len(next(o.dst.expression for o in observations if o.dst.expression is not None))
    skin = np.mean([o.skin for o in observations], axis=0) >= SKIN_SHARE
    return TrackSeries(
        track=observations[0].track,
        frame_indices=np.arange(first, first + int(rows.max()) + 1),
        features=gather(feature_array, (len(Features.NAMES),)),
        expression=gather(lambda r: r.expression, (k, 2)),
        stable=gather(lambda r: r.stable, (17, 2)),
        lightness=gather(lambda r: r.pixels.point_lightness.astype(np.float64), (478,)),
        skin_lab=gather(lambda r: r.pixels.skin_lab, (3,)),
        seam=gather(lambda r: r.pixels.seam_gradient, (len(SEAM_RINGS_IOD),)),
        detail=gather(lambda r: np.array(r.pixels.detail), ()),
        iod=_fill(rows, [np.array(o.iod_px) for o in observations], ()),
        skin_points=skin,
        difference={
            "result": _fill(rows, [np.array(o.result_difference) for o in observations], ()),
            "floor": _fill(rows, [np.array(o.floor_difference) for o in observations], ()),
        },
    )


def frame_series(series: TrackSeries, candidate: str) -> dict[str, Array]:
    """Per-frame measures of `candidate` against dst on one track (for plots and worst frames)."""
    names = Features.NAMES
    dst, cand = series.features["dst"], series.features[candidate]
    out = {
        key: np.abs(m.offset_removed(cand[:, names.index(name)], dst[:, names.index(name)]))
        for key, name, _ in SIGNALS
    }
    out["expression"] = 100 * m.expression_error(series.expression[candidate], series.expression["dst"])
    pose = m.pose_error(cand[:, names.index("yaw") :], dst[:, names.index("yaw") :])
    out["pose"] = np.max(pose, axis=1)
    out["jitter"] = m.jitter(series.stable[candidate], series.stable["dst"], series.iod)
    skin = series.skin_points
    out["flicker"] = m.flicker(series.lightness[candidate][:, skin], series.lightness["dst"][:, skin])
    out["skin_delta_e"] = m.delta_e(series.skin_lab[candidate], series.skin_lab["dst"])
    out["seam"] = m.seam_ratio(series.seam[candidate], series.seam["dst"])
    out["sharpness"] = m.ratio(series.detail[candidate], series.detail["dst"])
    return out


def _weighted(values: list[tuple[float | None, int]]) -> float | None:
    kept = [(v, n) for v, n in values if v is not None and np.isfinite(v)]
    if not kept:
        return None
    return float(sum(v * n for v, n in kept) / sum(n for _, n in kept))


def _pooled(arrays: list[Array], reduce: Callable[[Array], float] = np.mean) -> float | None:
    values = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.zeros(0)
    return float(reduce(values)) if values.size else None


def candidate_values(tracks: list[TrackSeries], candidate: str) -> dict[str, float | None]:
    """The performance, stability and blend rows of `candidate`, pooled over tracks."""
    names = Features.NAMES
    per_track = [(t, frame_series(t, candidate)) for t in tracks]
    values: dict[str, float | None] = {}
    for key, name, row in SIGNALS:
        column = names.index(name)
        values[row] = _weighted(
            [
                (
                    m.correlation(
                        t.features[candidate][:, column], t.features["dst"][:, column], m.MIN_MOTION[name]
                    ),
                    len(t.frame_indices),
                )
                for t, _ in per_track
            ]
        )
        values[f"{key}_mae"] = _pooled([fs[key] for _, fs in per_track])
    values["expression_error"] = _pooled([fs["expression"] for _, fs in per_track])
    pose_axes = [
        m.pose_error(
            t.features[candidate][:, names.index("yaw") :], t.features["dst"][:, names.index("yaw") :]
        )
        for t in tracks
    ]
    values["pose_error"] = _pooled([p.ravel() for p in pose_axes])
    for k, axis in enumerate(("yaw", "pitch", "roll")):
        values[f"{axis}_error"] = _pooled([p[:, k] for p in pose_axes])
    gaze = [
        np.hypot(
            m.offset_removed(
                t.features[candidate][:, names.index("gaze_x")], t.features["dst"][:, names.index("gaze_x")]
            ),
            m.offset_removed(
                t.features[candidate][:, names.index("gaze_y")], t.features["dst"][:, names.index("gaze_y")]
            ),
        )
        for t in tracks
    ]
    values["gaze_error"] = _pooled(gaze)
    for key in ("jitter", "flicker", "skin_delta_e"):
        values[key] = _pooled([fs[key] for _, fs in per_track])
    values["seam_x_dst"] = _pooled([fs["seam"] for _, fs in per_track], np.median)
    values["sharpness_x_dst"] = _pooled([fs["sharpness"] for _, fs in per_track], np.median)
    found = [np.isfinite(t.features[candidate][:, 0]) for t in tracks]
    present = [np.isfinite(t.features["dst"][:, 0]) | np.isfinite(t.iod) for t in tracks]
    values["face_found_share"] = _share(found, present)
    swapped = [t.difference[candidate] > SWAPPED_LEVELS for t in tracks]
    values["swapped_share"] = _share(swapped, [np.isfinite(t.difference[candidate]) for t in tracks])
    return values


def _share(hits: list[npt.NDArray[np.bool_]], of: list[npt.NDArray[np.bool_]]) -> float | None:
    total = sum(int(o.sum()) for o in of)
    return None if total == 0 else sum(int((h & o).sum()) for h, o in zip(hits, of, strict=True)) / total


def group_tracks(observations: Observations) -> list[TrackSeries]:
    by_track: dict[int, list[FaceObservation]] = {}
    for o in observations.faces:
        by_track.setdefault(o.track, []).append(o)
    return [track_series(faces) for _, faces in sorted(by_track.items())]


@dataclass(frozen=True)
class Worst:
    metric: str
    frame_index: int
    track: int
    value: float


def worst_frames(tracks: list[TrackSeries], candidate: str = "result") -> list[Worst]:
    """The worst frame of each per-frame measure, over all tracks."""
    out = []
    per_track = [(t, frame_series(t, candidate)) for t in tracks]
    for key, direction in FRAME_SERIES:
        best: Worst | None = None
        for track, series in per_track:
            values = series[key]
            if not np.isfinite(values).any():
                continue
            i = int(np.nanargmax(values) if direction == "max" else np.nanargmin(values))
            candidate_worst = Worst(key, int(track.frame_indices[i]), track.track, float(values[i]))
            worse = best is None or (
                candidate_worst.value > best.value
                if direction == "max"
                else candidate_worst.value < best.value
            )
            if worse:
                best = candidate_worst
        if best is not None:
            out.append(best)
    return out


def scores(observations: Observations, retrieval: m.Retrieval | None) -> dict[str, dict[str, float | None]]:
    """Every row's value for the result and for the codec floor."""
    tracks = group_tracks(observations)
    out = {c: candidate_values(tracks, c) for c in CANDIDATES}
    floor = out["floor"]
    for candidate in CANDIDATES:
        values = out[candidate]
        for key in ("jitter", "flicker"):
            ref = floor[key]
            values[f"{key}_x_floor"] = (
                values[key] / ref if values[key] is not None and ref else None  # type: ignore[operator]
            )
        sse, count = observations.untouched[candidate]
        values["psnr_outside"] = psnr(sse, int(count))
    result = out["result"]
    if retrieval is not None:
        result.update(
            retrieval=retrieval.closer_to_src,
            to_src=retrieval.to_src,
            to_dst=retrieval.to_dst,
            src_spread=retrieval.src_spread,
            identity_samples=float(retrieval.samples),
        )
    return out


def main_track(tracks: list[TrackSeries]) -> TrackSeries:
    """The track with the most dst faces."""
    return max(tracks, key=lambda t: int(np.isfinite(t.iod).sum()))


def truth_scores(
    tracks: list[TrackSeries], truth: list[dict[str, float]]
) -> dict[str, dict[str, float | None]]:
    """Correlation of dst's and the result's signals with the pseudo-video's true expression
    amounts (the longest track; eye opening against minus the blink)."""
    track = main_track(tracks)
    pairs = (
        ("mouth_open", "mouth_open", 1.0),
        ("eye_open", "blink", -1.0),
        ("smile", "smile", 1.0),
        ("brow_raise", "brow_raise", 1.0),
    )
    out: dict[str, dict[str, float | None]] = {}
    for stream in ("dst", "result"):
        out[stream] = {}
        for feature, key, sign in pairs:
            known = np.array(
                [sign * float(truth[i][key]) if i < len(truth) else np.nan for i in track.frame_indices]
            )
            measured = track.features[stream][:, Features.NAMES.index(feature)]
            out[stream][feature] = m.correlation(measured, known, 1e-6)
    return out

"""What `faceweave eval` hands a person: the one-screen summary, report.json, a self-contained
report.html (plots inline as PNG data, opens offline) and the worst frames' contact sheet."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from faceweave.quality.analysis import (
    FRAME_SERIES,
    ROWS,
    TrackSeries,
    Worst,
    frame_series,
    main_track,
    verdict,
)
from faceweave.quality.features import Features
from faceweave.records import ImageBGR

TILE_PX = 160


@dataclass(frozen=True)
class EvalReport:
    """Everything `faceweave eval` found, as written to report.json."""

    result: str
    dst: str
    src: str
    frames: int
    width: int
    height: int
    dst_faces: int
    tracks: int
    identity_every: int
    seconds: float
    values: dict[str, dict[str, float | None]]  # "result"/"floor" -> row key -> value
    verdicts: dict[str, str]
    worst: list[Worst]
    truth: dict[str, dict[str, float | None]] | None
    out_dir: str


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None or math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf"
    text = f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return text


def summary_lines(report: EvalReport) -> list[str]:
    """The one-screen summary: a row per metric with the codec floor beside it and a verdict."""
    result, floor = report.values["result"], report.values["floor"]
    lines = [
        f"eval of {report.result}: {report.frames} frames, {report.dst_faces} dst faces in "
        f"{report.tracks} track(s), identity every {report.identity_every} frame(s)",
        f"{'metric':<38} {'result':>9} {'floor':>9}  {'threshold':<18} verdict",
    ]
    group = ""
    for row in ROWS:
        if row.group != group:
            group = row.group
            lines.append(f"-- {group}")
        bound = f"{row.better} {row.threshold:g} {row.unit}".strip()
        lines.append(
            f"{row.label:<38} {_fmt(result.get(row.key)):>9} {_fmt(floor.get(row.key)):>9}  {bound:<18} "
            f"{report.verdicts[row.key]}"
        )
    good = sum(v == "ok" for v in report.verdicts.values())
    rated = sum(v != "n/a" for v in report.verdicts.values())
    lines.append(f"{good} of {rated} rated rows ok; floor = dst re-encoded, scored as if it were a result")
    if report.truth:
        parts = [f"{k} {_fmt(v)}" for k, v in report.truth["result"].items()]
        lines.append("against the true expression (result): " + ", ".join(parts))
    return lines


def verdicts(values: dict[str, float | None]) -> dict[str, str]:
    return {row.key: verdict(row, values.get(row.key)) for row in ROWS}


def to_json(report: EvalReport) -> str:
    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    document = clean(asdict(report))
    document["thresholds"] = [asdict(row) for row in ROWS]
    return json.dumps(document, indent=1)


def contact_sheet(worst: list[Worst], crops: dict[tuple[int, int], tuple[ImageBGR, ImageBGR]]) -> ImageBGR:
    """One row per metric: its name and value, dst's face, the result's face at the worst frame."""
    rows = []
    for item in worst:
        pair = crops.get((item.frame_index, item.track))
        if pair is None:
            continue
        label = np.full((TILE_PX, 2 * TILE_PX, 3), 32, np.uint8)
        for k, text in enumerate(
            (item.metric, f"frame {item.frame_index}", f"track {item.track}", f"value {_fmt(item.value)}")
        ):
            cv2.putText(
                label, text, (8, 30 + 30 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA
            )
        tiles = [cv2.resize(c, (TILE_PX, TILE_PX), interpolation=cv2.INTER_AREA) for c in pair]
        rows.append(np.hstack([label, *tiles]))
    header = np.full((28, 4 * TILE_PX, 3), 0, np.uint8)
    cv2.putText(
        header,
        "worst frames: metric | dst | result (synthetic)",
        (8, 20),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.55,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    return np.asarray(np.vstack([header, *rows]) if rows else header, np.uint8)


def _png_data(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plots(tracks: list[TrackSeries], identity: list[tuple[int, int, float, float]]) -> list[tuple[str, str]]:
    """(title, base64 PNG) of the main track's signals, errors and blend measures over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    track = main_track(tracks)
    x = track.frame_indices
    out = []
    figure, axes = plt.subplots(2, 2, figsize=(11, 5.5), sharex=True)
    for ax, name in zip(axes.ravel(), ("mouth_open", "eye_open", "smile", "brow_raise"), strict=True):
        column = Features.NAMES.index(name)
        ax.plot(x, track.features["dst"][:, column], label="dst", color="#333")
        ax.plot(x, track.features["result"][:, column], label="result", color="#d62")
        ax.set_title(name.replace("_", " "))
    axes[0, 0].legend()
    out.append((f"Performance: dst against the result (track {track.track})", _png_data(figure)))
    plt.close(figure)
    series = {c: frame_series(track, c) for c in ("result", "floor")}
    keys = [k for k, _ in FRAME_SERIES if k not in ("mouth", "eyes", "smile", "brows")]
    figure, axes = plt.subplots(2, 4, figsize=(14, 5.5), sharex=True)
    for ax, key in zip(axes.ravel(), keys, strict=False):
        ax.plot(x, series["result"][key], color="#d62", label="result")
        ax.plot(x, series["floor"][key], color="#39c", label="codec floor")
        ax.set_title(key.replace("_", " "))
    if identity:
        frames, _, to_src, to_dst = zip(*identity, strict=True)
        ax = axes.ravel()[-1]
        ax.plot(frames, to_src, "o-", color="#2a2", label="to src")
        ax.plot(frames, to_dst, "o-", color="#333", label="to dst")
        ax.axhline(0.6, color="#999", lw=0.8)
        ax.set_title("identity distance")
        ax.legend(fontsize=7)
    axes[0, 0].legend(fontsize=7)
    out.append(("Errors per frame (result and codec floor) and identity", _png_data(figure)))
    plt.close(figure)
    return out


def render_html(report: EvalReport, figures: list[tuple[str, str]], sheet_png: bytes) -> str:
    result, floor = report.values["result"], report.values["floor"]
    rows = []
    for row in ROWS:
        state = report.verdicts[row.key]
        colour = {"ok": "#1a7f37", "poor": "#cf222e"}.get(state, "#777")
        rows.append(
            f"<tr><td>{html.escape(row.group)}</td><td>{html.escape(row.label)}</td>"
            f"<td>{_fmt(result.get(row.key))}</td><td>{_fmt(floor.get(row.key))}</td>"
            f"<td>{html.escape(row.better)} {row.threshold:g} {html.escape(row.unit)}</td>"
            f"<td style='color:{colour};font-weight:bold'>{state}</td></tr>"
        )
    extra = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_fmt(v)}</td><td>{_fmt(floor.get(k))}</td></tr>"
        for k, v in sorted(result.items())
    )
    images = "".join(
        f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='data:image/png;base64,{data}'>"
        for title, data in figures
    )
    sheet = base64.b64encode(sheet_png).decode("ascii")
    truth = ""
    if report.truth:
        truth = (
            "<h2>Against the pseudo-video's true expression</h2><table><tr><th></th>"
            + "".join(f"<th>{html.escape(k)}</th>" for k in report.truth["dst"])
            + "</tr>"
            + "".join(
                f"<tr><td>{s}</td>"
                + "".join(f"<td>{_fmt(v)}</td>" for v in report.truth[s].values())
                + "</tr>"
                for s in ("dst", "result")
            )
            + "</table>"
        )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>faceweave eval: {html.escape(Path(report.result).name)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}img{{max-width:100%}}</style></head><body>
<h1>faceweave eval</h1>
<p>This report shows frames of a <b>synthetic face swap</b> made with faceweave.</p>
<p>Result <code>{html.escape(report.result)}</code> against dst <code>{html.escape(report.dst)}</code>,
src <code>{html.escape(report.src)}</code>: {report.frames} frames ({report.width}x{report.height}),
{report.dst_faces} dst faces in {report.tracks} track(s), identity measured every {report.identity_every}
frame(s), scored in {report.seconds:.1f} s. The floor column scores dst re-encoded once as if it were
a result: what the measuring itself reads when nothing was swapped.</p>
<table><tr><th>group</th><th>metric</th><th>result</th><th>codec floor</th><th>threshold</th>
<th>verdict</th></tr>{"".join(rows)}</table>{truth}{images}
<h2>Worst frames</h2><img alt="worst frames" src="data:image/png;base64,{sheet}">
<h2>All figures</h2><table><tr><th>key</th><th>result</th><th>codec floor</th></tr>{extra}</table>
</body></html>
"""

"""What dst does that src never shows, said before hours of training, when a user can still act.

Expressions come from each face's mesh (quality/features.py: openings in inter-ocular distances,
eye opening in eye widths). Two people differ at rest (one's lips part a little, another's mouth
is wider), so each expression is taken relative to its own faceset's resting level (the 5th
percentile; the 95th for eye opening): how far a face moves away from rest. A dst face lies beyond
src when it moves further than all but 2% of src's faces, by a margin larger than the measure's
frame-to-frame noise. A dst pose is covered when src has a face within `pose_deg` degrees of its
yaw and of its pitch: a pose is a view, and no augmentation draws a view src never showed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.errors import UserError
from faceweave.faceset.stats import EXPRESSIONS, FacesetStats

Floats = npt.NDArray[np.float64]

# (measure, +1 if "beyond" is more / -1 if less, margin, what dst does, what helps).
EXPRESSION_CHECKS = (
    ("mouth_open", 1, 0.05, "opens its mouth wider",
     "expression augmentation draws the shape, not teeth and tongue: set merge.keep_mouth = true "
     "to keep dst's mouth interior, or add src footage that opens the mouth"),
    ("eye_open", -1, 0.04, "closes its eyes further",
     "expression augmentation closes src's eyes by warping; src footage with blinks is better"),
    ("smile", 1, 0.04, "smiles wider",
     "expression augmentation widens src's mouth corners; src footage that smiles is better"),
    ("brow_raise", 1, 0.04, "raises its brows higher",
     "expression augmentation lifts src's brows; src footage with raised brows is better"),
)  # fmt: skip
POSE_REMEDY = "no augmentation makes a new view: add src footage with those head poses"
NO_AUGMENTATION = (
    "train.expression_aug is 0: set it (e.g. 0.5) to teach src's face the shape by warping, "
    "or add src footage that shows it"
)
EDGE_PERCENTILE = 98  # src's reach: all but its 2% most extreme faces (a stray frame is not a skill)


@dataclass(frozen=True)
class Side:
    """One faceset's measures: yaw and pitch (degrees), expression (N, 4) in EXPRESSIONS order,
    and the frame each face came from."""

    yaw: Floats
    pitch: Floats
    expression: Floats
    frames: npt.NDArray[np.int64]

    @classmethod
    def of(cls, stats: FacesetStats) -> Side:
        expression = np.column_stack([np.asarray(stats[name], np.float64) for name in EXPRESSIONS])
        return cls(np.asarray(stats["yaw"], np.float64), np.asarray(stats["pitch"], np.float64),
                   np.nan_to_num(expression.reshape(len(stats), len(EXPRESSIONS))),
                   np.asarray(stats["frame_index"], np.int64))  # fmt: skip

    def __len__(self) -> int:
        return len(self.yaw)


@dataclass(frozen=True)
class Gap:
    measure: str
    share: float  # of dst faces beyond src
    sentence: str
    frames: tuple[int, ...]  # the dst frames with such a face


@dataclass(frozen=True)
class Coverage:
    src_faces: int
    dst_faces: int
    pose_deg: float
    gaps: list[Gap]
    beyond: dict[str, npt.NDArray[np.bool_]] = field(default_factory=dict)  # measure -> per dst face

    def uncovered_frames(self) -> list[int]:
        return sorted({f for gap in self.gaps for f in gap.frames})

    def lines(self) -> list[str]:
        """The summary as text: one line per gap, with the dst frames it concerns."""
        if not self.gaps:
            within = f"within {self.pose_deg:g} deg"
            return [f"src covers every pose ({within}) and expression of dst's {self.dst_faces} faces"]
        return [f"{gap.sentence} (dst frames {frame_ranges(gap.frames)})" for gap in self.gaps]

    def to_json(self) -> dict[str, Any]:
        return {
            "src_faces": self.src_faces, "dst_faces": self.dst_faces, "pose_deg": self.pose_deg,
            "gaps": [{"measure": g.measure, "share": round(g.share, 4), "sentence": g.sentence,
                      "frames": list(g.frames), "frame_ranges": frame_ranges(g.frames)} for g in self.gaps],
            "uncovered_frames": self.uncovered_frames(),
        }  # fmt: skip


def frame_ranges(frames: tuple[int, ...] | list[int], limit: int = 12) -> str:
    """`[3, 4, 5, 9]` -> "3-5, 9" (at most `limit` ranges, then "...")."""
    runs: list[list[int]] = []
    for f in sorted(set(frames)):
        if runs and f == runs[-1][1] + 1:
            runs[-1][1] = f
        else:
            runs.append([f, f])
    text = [f"{a}-{b}" if b > a else f"{a}" for a, b in runs[:limit]]
    return ", ".join(text) + (", ..." if len(runs) > limit else "")


def excursion(side: Side, name: str, sign: int) -> Floats:
    """How far each face moves from its faceset's rest on expression `name`, in the direction `sign`."""
    values = side.expression[:, EXPRESSIONS.index(name)]
    rest = float(np.percentile(values, 5 if sign > 0 else 95))
    return np.asarray((values - rest) * sign, np.float64)


def pose_covered(src: Side, dst: Side, deg: float) -> npt.NDArray[np.bool_]:
    """Per dst face: src has a face within `deg` degrees of its yaw and of its pitch (on a 1-degree
    grid, so 20,000 faces cost a dilation, not 400 million comparisons)."""
    reach = 181

    def cells(side: Side) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        return (np.clip(np.round(side.pitch), -90, 90).astype(np.int64) + 90,
                np.clip(np.round(side.yaw), -90, 90).astype(np.int64) + 90)  # fmt: skip

    grid = np.zeros((reach, reach), np.uint8)
    grid[cells(src)] = 1
    side = 2 * int(np.ceil(deg)) + 1
    grown = cv2.dilate(grid, np.ones((side, side), np.uint8))
    return np.asarray(grown[cells(dst)] > 0)


def coverage(src: Side, dst: Side, augmenting: bool = True, pose_deg: float = 10.0,
             min_share: float = 0.01) -> Coverage:  # fmt: skip
    """Every measure where at least `min_share` of dst's faces lie beyond src; the remedy said
    depends on whether expression augmentation is on."""
    gaps: list[Gap] = []
    beyond: dict[str, npt.NDArray[np.bool_]] = {}
    if not len(src) or not len(dst):
        return Coverage(len(src), len(dst), pose_deg, gaps, beyond)
    for name, sign, margin, does, remedy in EXPRESSION_CHECKS:
        edge = float(np.percentile(excursion(src, name, sign), EDGE_PERCENTILE))
        beyond[name] = excursion(dst, name, sign) - edge > margin
        helps = remedy if augmenting else NO_AUGMENTATION
        sentence = f"dst {does} than src ever does in {{share:.0%}} of its faces; {helps}"
        _add_gap(gaps, name, beyond[name], dst, sentence, min_share)
    beyond["pose"] = ~pose_covered(src, dst, pose_deg)
    hit = beyond["pose"]
    if hit.any():
        span = (f"yaw {dst.yaw[hit].min():+.0f}..{dst.yaw[hit].max():+.0f} deg, "
                f"pitch {dst.pitch[hit].min():+.0f}..{dst.pitch[hit].max():+.0f} deg")  # fmt: skip
        sentence = (f"dst turns its head where src never does (no src face within {pose_deg:g} deg) in "
                    f"{{share:.0%}} of its faces ({span}); {POSE_REMEDY}")  # fmt: skip
        _add_gap(gaps, "pose", hit, dst, sentence, min_share)
    return Coverage(len(src), len(dst), pose_deg, gaps, beyond)


def _add_gap(gaps: list[Gap], name: str, hit: npt.NDArray[np.bool_], dst: Side, sentence: str,
             min_share: float) -> None:  # fmt: skip
    share = float(hit.mean())
    if hit.any() and share >= min_share:
        frames = tuple(sorted(set(dst.frames[hit].tolist())))
        gaps.append(Gap(name, share, sentence.format(share=share), frames))


def draw_coverage(src: Side, dst: Side, result: Coverage, path: Path) -> None:
    """coverage.png: yaw x pitch, and mouth opening x eye closing, src against dst; dst faces src
    cannot cover in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from faceweave.atomic import atomic_target

    fig, (pose, face) = plt.subplots(1, 2, figsize=(12, 5.4), dpi=100)
    bad_pose = result.beyond.get("pose", np.zeros(len(dst), bool))
    bad_expr = np.zeros(len(dst), bool)
    for name in ("mouth_open", "eye_open", "smile", "brow_raise"):
        bad_expr |= result.beyond.get(name, np.zeros(len(dst), bool))
    panels = (
        (pose, src.yaw, src.pitch, dst.yaw, dst.pitch, bad_pose, "yaw (deg)", "pitch (deg)",
         f"head pose: red = no src face within {result.pose_deg:g} deg"),
        (face, excursion(src, "mouth_open", 1), excursion(src, "eye_open", -1),
         excursion(dst, "mouth_open", 1), excursion(dst, "eye_open", -1), bad_expr,
         "mouth opening above rest (inter-ocular)", "eye closing below open (eye widths)",
         "expression: red = beyond what src shows"),
    )  # fmt: skip
    for ax, sx, sy, dx, dy, bad, xlabel, ylabel, title in panels:
        ax.scatter(dx[~bad], dy[~bad], s=9, c="#9a9a9a", label=f"dst, covered ({int((~bad).sum())})")
        ax.scatter(dx[bad], dy[bad], s=12, c="#d62728", label=f"dst, src lacks ({int(bad.sum())})")
        ax.scatter(sx, sy, s=5, c="#1f77b4", alpha=0.6, label=f"src ({len(sx)})")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    pose.invert_yaxis()  # pitch + looks down: down is down on the picture
    fig.suptitle(f"faceweave coverage: src {result.src_faces} faces, dst {result.dst_faces} faces; "
                 f"dst frames src lacks: {len(result.uncovered_frames())}", fontsize=11)  # fmt: skip
    fig.tight_layout()
    with atomic_target(path) as temp:
        fig.savefig(temp, format="png")
    plt.close(fig)


def run_coverage(src_dir: Path, dst_dir: Path, pose_deg: float, out_dir: Path | None = None,
                 augmenting: bool = True, workers: int = 2) -> Coverage:  # fmt: skip
    """Coverage of dst by src from the two facesets' metadata (nothing decoded); with `out_dir`,
    also coverage.png and coverage.json there."""
    import json

    from faceweave.atomic import write_text_atomic
    from faceweave.faceset.stats import check_faceset, faceset_stats

    sides = []
    for folder in (src_dir, dst_dir):
        stats = faceset_stats(folder, ("meta",), workers)
        check_faceset(stats, damaged_ok=True)
        sides.append(Side.of(stats))
    src, dst = sides
    result = coverage(src, dst, augmenting, pose_deg)
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise UserError(f"{out_dir} is a file; give -o a folder for coverage.png and coverage.json")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise UserError(f"{out_dir} cannot be made: a file is in its path") from None
        draw_coverage(src, dst, result, out_dir / "coverage.png")
        write_text_atomic(out_dir / "coverage.json", json.dumps(result.to_json(), indent=1) + "\n")
    return result

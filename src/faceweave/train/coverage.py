"""What dst does that src never shows: said before training, when a user can still act on it.

Each face's expression and yaw were measured from its mesh when the faceset loaded
(quality/features.py: openings in inter-ocular distances, eye opening in eye widths). Two people
differ at rest (one's lips part a little, another's mouth is wider), so each expression is taken
relative to its own faceset's resting level (the 5th percentile; the 95th for eye opening): how
far a face moves away from rest. A dst face lies outside src when it moves further than all but
2% of src's faces, by a margin larger than the measure's frame-to-frame noise. Yaw is absolute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from faceweave.train.data import EXPRESSION_NAMES, Faceset

# (measure, +1 if "beyond" is more / -1 if less, margin, what dst does, what helps).
CHECKS = (
    ("mouth_open", 1, 0.05, "opens its mouth wider",
     "expression augmentation draws the shape, not teeth and tongue: set merge.keep_mouth = true "
     "to keep dst's mouth interior, or add src footage that opens the mouth"),
    ("eye_open", -1, 0.04, "closes its eyes further",
     "expression augmentation closes src's eyes by warping; src footage with blinks is better"),
    ("smile", 1, 0.04, "smiles wider",
     "expression augmentation widens src's mouth corners; src footage that smiles is better"),
    ("brow_raise", 1, 0.04, "raises its brows higher",
     "expression augmentation lifts src's brows; src footage with raised brows is better"),
    ("yaw", 1, 5.0, "turns its head further",
     "no augmentation makes a new view: add src footage that turns that far"),
)  # fmt: skip


@dataclass(frozen=True)
class Gap:
    measure: str
    share: float  # of dst faces beyond src
    sentence: str


def excursion(faceset: Faceset, name: str, sign: int) -> npt.NDArray[np.float32]:
    """How far each face moves from its faceset's rest on `name`, in the direction `sign`."""
    if name == "yaw":
        return np.abs(faceset.yaw)
    values = faceset.expression[:, EXPRESSION_NAMES.index(name)]
    rest = float(np.percentile(values, 5 if sign > 0 else 95))
    return np.asarray((values - rest) * sign, np.float32)


NO_AUGMENTATION = (
    "train.expression_aug is 0: set it (e.g. 0.5) to teach src's face the shape by warping, "
    "or add src footage that shows it"
)


def coverage_gaps(src: Faceset, dst: Faceset, augmenting: bool = True, min_share: float = 0.02) -> list[Gap]:
    """Every measure where at least `min_share` of dst's faces lie beyond all but 2% of src's;
    the remedy said depends on whether expression augmentation is on."""
    if not len(src.expression) or not len(dst.expression):
        return []
    gaps = []
    for name, sign, margin, does, remedy in CHECKS:
        edge = float(np.percentile(excursion(src, name, sign), 98))
        beyond = excursion(dst, name, sign) - edge > margin
        share = float(beyond.mean())
        if share >= min_share:
            if not augmenting and name != "yaw":
                remedy = NO_AUGMENTATION
            sentence = f"dst {does} than src ever does in {share:.0%} of its faces; {remedy}"
            gaps.append(Gap(name, share, sentence))
    return gaps

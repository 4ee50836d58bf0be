"""Expression augmentation: src faces given expressions their footage lacks, by warping the mesh.

A src decoder can only draw src in the shapes it saw, and src footage is often calmer than dst's
performance. Here a sample's 478 landmarks are moved as a face moves them (the jaw drops and the
lower lip with it, the mouth corners go up and out, the upper lids come down onto the lower
ones, the brows rise), and the image follows the mesh with a piecewise-linear warp over its
triangulation. A lid is the one part that slides over another: the eyeball stays where it is and
the lid's skin covers it from above, so the eye's opening is drawn unwarped under the moved lid.
Input and target are warped alike, and the masks are rebuilt from the moved landmarks, so the
model learns src's face in that shape.

What a warp cannot know is the inside of an opened mouth: teeth and tongue were never in the
picture. The opening is filled with a dark shade of src's own lips and marked, so training can
give it little weight; the merge's `keep_mouth` keeps dst's real mouth interior where that matters.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import cv2
import numpy as np
import numpy.typing as npt
from matplotlib.tri import LinearTriInterpolator, Triangulation

from faceweave.mesh import (
    BROWS,
    CHEEK_SIDES,
    INNER_LOWER,
    INNER_UPPER,
    IRISES,
    LIDS,
    MOUTH_CORNERS,
    OUTER_LOWER,
)
from faceweave.records import ImageBGR

Points = npt.NDArray[np.float64]

# How far each expression moves the mesh at amount 1, in mouth widths (jaw, smile) or in the
# brow's height above the lid (brow): about a wide-open mouth, a broad smile, brows raised high.
JAW_DROP = 0.5
SMILE_UP, SMILE_OUT = 0.12, 0.08
BROW_LIFT = 0.4
# A closed upper lid stops just short of the lower one: coincident points would leave the
# triangulation free to keep the lower lid's and read the eye, squeezed, into the lid.
LID_REACH = 0.97
# How far above a closing lid its skin follows it down, in eye openings (none beyond).
LID_SKIN_REACH = 0.7
IRIS_POINTS = [i for iris in IRISES for i in iris]


@dataclass(frozen=True)
class ExpressionAmounts:
    """0 = as the face is, 1 = the full expression."""

    jaw: float = 0.0
    smile: float = 0.0
    close_eyes: float = 0.0
    brow: float = 0.0


EXPRESSIONS = tuple(f.name for f in fields(ExpressionAmounts))


def random_amounts(rng: np.random.Generator, kinds: tuple[str, ...] = EXPRESSIONS) -> ExpressionAmounts:
    """Each expression of `kinds` on with probability one half (at least one on), at a uniform
    amount: the combinations a performance shows, not only one at a time."""
    allowed = np.array([name in kinds for name in EXPRESSIONS])
    on = (rng.random(4) < 0.5) & allowed
    if not on.any():
        choices = np.flatnonzero(allowed)
        on[choices[rng.integers(0, len(choices))]] = True
    amounts = rng.uniform(0.15, 1.0, 4) * on
    return ExpressionAmounts(*(float(a) for a in amounts))


def _axes(points: Points) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(across, down) unit vectors of the face: along the eye line, and square to it toward the chin."""
    right = points[list(LIDS[0][0])].mean(axis=0)
    left = points[list(LIDS[1][0])].mean(axis=0)
    across = (left - right) / max(float(np.linalg.norm(left - right)), 1e-9)
    down = np.array([-across[1], across[0]])
    if float((points[MOUTH_CORNERS[0]] - right) @ down) < 0:
        down = -down
    return across, down


def displacement(points: Points, amounts: ExpressionAmounts) -> Points:
    """(478, 2) motion of each mesh point (image pixels, y down) for `amounts`."""
    p = np.asarray(points[:, :2], np.float64)
    across, down = _axes(p)
    move = np.zeros_like(p)
    corners = p[list(MOUTH_CORNERS)]
    mouth_w = float(np.linalg.norm(corners[1] - corners[0]))
    centre = corners.mean(axis=0)
    if amounts.jaw:
        move += _jaw(p, across, down, centre, mouth_w) * amounts.jaw
    if amounts.smile:
        for corner, side in ((corners[0], -1.0), (corners[1], 1.0)):
            if float((corner - centre) @ across) * side < 0:
                side = -side
            reach = np.exp(-np.sum((p - corner) ** 2, axis=1) / (2 * (0.35 * mouth_w) ** 2))
            lift = (side * SMILE_OUT * across - SMILE_UP * down) * mouth_w * amounts.smile
            move += reach[:, None] * lift[None, :]
    if amounts.close_eyes:
        move += _lids(p, across, down) * amounts.close_eyes
    if amounts.brow:
        move += _brows(p, across, down) * amounts.brow
    return move


def _jaw(p: Points, across: npt.NDArray[np.float64], down: npt.NDArray[np.float64],
         centre: npt.NDArray[np.float64], mouth_w: float) -> Points:  # fmt: skip
    """The lower jaw dropping: every point below the lips' meeting line moves down, fully near the
    chin's middle and less toward the jaw's corners."""
    u = (p - centre) @ across
    v = (p - centre) @ down
    upper = p[list(INNER_UPPER)]
    lower = p[list(INNER_LOWER)]
    line_u = ((upper + lower) / 2 - centre) @ across
    line_v = ((upper + lower) / 2 - centre) @ down
    order = np.argsort(line_u)
    meeting = np.interp(u, line_u[order], line_v[order])
    below = (v > meeting + 1e-6).astype(np.float64)
    below[list(INNER_LOWER[1:-1]) + list(OUTER_LOWER)] = (
        1.0  # a closed mouth's lips touch: say which is which
    )
    below[list(INNER_UPPER[1:-1])] = 0.0
    below[[INNER_UPPER[0], INNER_UPPER[-1], *MOUTH_CORNERS]] = 0.5  # the corners stretch
    half_face = float(np.linalg.norm(p[CHEEK_SIDES[1]] - p[CHEEK_SIDES[0]])) / 2
    taper = np.clip(1 - (u / max(0.95 * half_face, 1e-9)) ** 2, 0, 1)
    return (below * taper * JAW_DROP * mouth_w)[:, None] * down[None, :]


def _lids(p: Points, across: npt.NDArray[np.float64], down: npt.NDArray[np.float64]) -> Points:
    """Upper lids onto the lower ones, the skin above them following less and less up to
    LID_SKIN_REACH above the lid, so that the lid's dark margin stays a thin line instead of being
    stretched over the eye. The irises stay: a blink covers the eye, it does not move it."""
    move = np.zeros_like(p)
    u, v = p @ across, p @ down
    for upper, lower in LIDS:
        up, low = p[list(upper)], p[list(lower)]
        travel = (low - up) @ down * LID_REACH
        order = np.argsort(up @ across)
        lid_u, lid_v = (up @ across)[order], (up @ down)[order]
        above = np.interp(u, lid_u, lid_v) - v
        reach = max(LID_SKIN_REACH * float(travel.max()) / LID_REACH, 1.0)
        follow = np.clip(1 - (above / reach) ** 2, 0, 1) * (above > 0) * (u > lid_u[0]) * (u < lid_u[-1])
        move += (follow * np.interp(u, lid_u, travel[order]))[:, None] * down[None, :]
        move[list(upper)] = (low - up) * LID_REACH
    move[IRIS_POINTS] = 0  # an iris's top is under the lid, not on it
    return move


def _brows(p: Points, across: npt.NDArray[np.float64], down: npt.NDArray[np.float64]) -> Points:
    """Brows and the forehead above them rise; the skin between brow and lid stretches."""
    move = np.zeros_like(p)
    for brow, (upper, _) in zip(BROWS, LIDS, strict=True):
        b = p[list(brow)]
        lid_v = float(np.mean(p[list(upper)] @ down))
        gap = max(lid_v - float(np.mean(b @ down)), 1.0)
        width = max(float(np.ptp(b @ across)), 1.0)
        height = np.clip((lid_v - p @ down) / gap - 0.15, 0, 1)  # 0 at the lid, 1 at the brow
        near = np.exp(-(((p - b.mean(axis=0)) @ across) ** 2) / (2 * (0.7 * width) ** 2))
        move -= (height * near * BROW_LIFT * gap)[:, None] * down[None, :]
    return move


def _anchors(size: int, count: int = 8) -> Points:
    """Points along the crop's border that stay put: the warp ends inside the crop."""
    edge = np.linspace(0, size - 1, count)
    ends = np.full(count, size - 1.0)
    zeros = np.zeros(count)
    return np.concatenate([np.stack(pair, axis=1) for pair in
                           ((edge, zeros), (edge, ends), (zeros, edge), (ends, edge))])  # fmt: skip


def mesh_maps(
    before: Points, after: Points, size: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """cv2.remap maps that move the image's `before` points to `after`: for every output pixel,
    where to read, linear inside each triangle of the moved mesh."""
    anchors = _anchors(size)
    target = np.vstack([after, anchors])
    source = np.vstack([before, anchors])
    # Coincident points (the lips of a closed mouth) would make the triangulation degenerate.
    _, unique = np.unique(np.round(target, 3), axis=0, return_index=True)
    target, source = target[unique], source[unique]
    mesh = Triangulation(target[:, 0], target[:, 1])
    finder = mesh.get_trifinder()
    grid_y, grid_x = np.mgrid[0:size, 0:size].astype(np.float64)
    maps = []
    for k, fallback in enumerate((grid_x, grid_y)):
        values = LinearTriInterpolator(mesh, source[:, k], trifinder=finder)(grid_x, grid_y)
        inside = ~np.ma.getmaskarray(values)  # type: ignore[no-untyped-call]
        data = np.ma.getdata(values)  # type: ignore[no-untyped-call]
        maps.append(np.where(inside, data, fallback).astype(np.float32))
    return maps[0], maps[1]


def _eyes_under_lids(face: ImageBGR, warped: ImageBGR, after: Points) -> ImageBGR:
    """`warped` with each eye's remaining opening (between the moved upper lid and the lower lid)
    taken from `face` as it was: the part of the eye the lid has not reached yet does not move."""
    opening = np.zeros(face.shape[:2], np.float32)
    for upper, lower in LIDS:
        ring = np.vstack([after[list(upper)], after[list(lower[::-1])]])
        cv2.fillPoly(opening, [np.round(ring * 16).astype(np.int32)], (1.0,), cv2.LINE_AA, shift=4)
    keep = opening[..., None]
    return np.asarray(face * keep + warped * (1 - keep) + 0.5, np.uint8)


@dataclass(frozen=True)
class Expressed:
    """A face warped into an expression: its image, moved landmarks, and the opened mouth (0-1)."""

    face: ImageBGR
    landmarks: Points
    cavity: npt.NDArray[np.float32]


def express(face: ImageBGR, landmarks: Points, amounts: ExpressionAmounts) -> Expressed:
    """`face` (square, landmarks in its pixels) with the expression `amounts`."""
    size = face.shape[0]
    before = np.asarray(landmarks[:, :2], np.float64)
    after = before + displacement(before, amounts)
    # The irises lie under a closing lid; in the skin's mesh they would pin the lid's skin to the eye.
    skin = np.ones(len(before), bool)
    if amounts.close_eyes > 0:
        skin[IRIS_POINTS] = False
    map_x, map_y = mesh_maps(before[skin], after[skin], size)
    warped = np.asarray(
        cv2.remap(face, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), np.uint8
    )
    if amounts.close_eyes > 0:
        warped = _eyes_under_lids(face, warped, after)
    cavity = np.zeros((size, size), np.float32)
    if amounts.jaw > 0:
        ring = np.vstack([after[list(INNER_UPPER)], after[list(INNER_LOWER[::-1])]])
        cv2.fillPoly(cavity, [np.round(ring * 16).astype(np.int32)], (1.0,), cv2.LINE_AA, shift=4)
        lips = np.vstack([before[list(INNER_LOWER)], before[list(OUTER_LOWER)]])
        rows = np.clip(np.round(lips[:, 1]).astype(int), 0, size - 1)
        cols = np.clip(np.round(lips[:, 0]).astype(int), 0, size - 1)
        shade = face[rows, cols].astype(np.float32).mean(axis=0) * 0.3
        soft = cavity[..., None]
        warped = np.asarray(warped * (1 - soft) + shade * soft + 0.5, np.uint8)
    return Expressed(warped, after, cavity)

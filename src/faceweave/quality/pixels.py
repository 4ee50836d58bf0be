"""What a face looks like in one frame, measured in regions drawn from dst's mesh: skin colour,
the gradient across the face's outline (where a seam would be), fine detail, lightness at every
mesh point (for flicker), and the picture outside the face.

The regions come from dst's landmarks and are laid on dst, on the result and on the codec floor
alike, so each measure compares the same pixels. All of it runs in a box around the face (the
untouched measure excepted), in CIELAB (L 0-100). Pure functions: images and landmarks in.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from faceweave.mesh import EYES, FACE_OVAL, MOUTH
from faceweave.quality.features import BROWS, inter_ocular
from faceweave.records import ImageBGR

Mask = npt.NDArray[np.bool_]
Points = npt.NDArray[np.float64]

# In inter-ocular distances (IOD): how far the identity features are kept out of the skin, how
# deep inside the outline the skin starts, the band around the outline where a seam would show,
# and how far around the face the merge may have touched.
FEATURE_MARGIN_IOD = 0.12
SKIN_INSET_IOD = 0.15
# Seams are looked for in thin rings parallel to the outline, from a little outside it to well
# inside (a merge mask may be eroded): each ring is compared with the same ring in dst, and the
# worst ring counts, so a step along one ring is not averaged away by the others.
SEAM_RINGS_IOD = tuple(-0.1 + 0.05 * k for k in range(9))  # inner edges, -0.1 .. 0.3
SEAM_RING_WIDTH_IOD = 0.05
UNTOUCHED_MARGIN_IOD = 0.6
FLICKER_BLUR_IOD = 0.04
BOX_MARGIN_IOD = 0.5


@dataclass(frozen=True)
class FaceRegions:
    """Masks of one dst face inside its box (rows y0:y1, columns x0:x1 of the frame)."""

    x0: int
    y0: int
    x1: int
    y1: int
    iod_px: float
    hull: Mask
    skin: Mask
    inner: Mask  # the hull without its outer rim: where fine detail is compared
    rings: npt.NDArray[np.int8]  # ring number of each pixel near the outline, -1 elsewhere
    normal: npt.NDArray[np.float32]  # (h, w, 2) unit vector across the outline
    points: Points  # (478, 2) landmarks in box coordinates


def _fill(shape: tuple[int, int], points: Points, hull: bool = True) -> npt.NDArray[np.uint8]:
    mask = np.zeros(shape, np.uint8)
    polygon = np.round(points * 4).astype(np.int32)  # 2 fractional bits
    if hull:
        cv2.fillConvexPoly(mask, cv2.convexHull(polygon), (1,), cv2.LINE_8, 2)
    else:
        cv2.fillPoly(mask, [polygon], (1,), cv2.LINE_8, shift=2)
    return mask


def _signed_distance(mask: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """Distance to the mask's outline, positive inside, negative outside (pixels)."""
    inside = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    outside = cv2.distanceTransform(1 - mask, cv2.DIST_L2, 5)
    return np.asarray(inside - outside, np.float32)


def face_regions(landmarks_478: Points, frame_hw: tuple[int, int]) -> FaceRegions:
    """The regions of the face whose mesh (frame pixels) is `landmarks_478`."""
    p = np.asarray(landmarks_478, np.float64)[:, :2]
    iod = max(inter_ocular(p), 2.0)
    h, w = frame_hw
    margin = BOX_MARGIN_IOD * iod
    x0, y0 = (max(0, int(v - margin)) for v in p.min(axis=0))
    x1, y1 = int(min(w, p[:, 0].max() + margin + 1)), int(min(h, p[:, 1].max() + margin + 1))
    local = p - (x0, y0)
    shape = (max(y1 - y0, 1), max(x1 - x0, 1))
    hull = _fill(shape, local[list(FACE_OVAL)])
    distance = _signed_distance(hull)
    features = np.zeros(shape, np.uint8)
    for ring in (*EYES, MOUTH, BROWS[:5], BROWS[5:]):
        features |= _fill(shape, local[list(ring)])
    near_features = cv2.distanceTransform(1 - features, cv2.DIST_L2, 5) < FEATURE_MARGIN_IOD * iod
    skin = (distance > SKIN_INSET_IOD * iod) & ~near_features
    rings = np.full(shape, -1, np.int8)
    for k, inner in enumerate(SEAM_RINGS_IOD):
        rings[(distance >= inner * iod) & (distance < (inner + SEAM_RING_WIDTH_IOD) * iod)] = k
    smooth = cv2.GaussianBlur(distance, (0, 0), max(0.05 * iod, 1.0))
    gx, gy = cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1)
    norm = np.sqrt(gx**2 + gy**2) + 1e-6
    normal = np.dstack([gx / norm, gy / norm]).astype(np.float32)
    return FaceRegions(
        x0, y0, x1, y1, iod, hull.astype(bool), skin, distance > SKIN_INSET_IOD * iod, rings, normal, local
    )


def to_lab(image_bgr_u8: ImageBGR) -> npt.NDArray[np.float32]:
    """CIELAB with L in 0-100 and a, b about -128..127 (float, sRGB assumed)."""
    return np.asarray(cv2.cvtColor(image_bgr_u8.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab), np.float32)


@dataclass(frozen=True)
class PixelStats:
    """One picture of one face, measured in its dst regions."""

    skin_lab: npt.NDArray[np.float64]  # mean (L, a, b) of the skin
    seam_gradient: npt.NDArray[np.float64]  # mean |dL/dn| across the outline, per ring
    detail: float  # variance of the Laplacian of L inside the face
    point_lightness: npt.NDArray[np.float32]  # (478,) blurred L at each dst mesh point


def measure(regions: FaceRegions, frame: ImageBGR) -> PixelStats:
    """`frame`'s face, measured in `regions` (which were drawn from dst's mesh)."""
    box = frame[regions.y0 : regions.y1, regions.x0 : regions.x1]
    lab = to_lab(box)
    lightness = np.ascontiguousarray(lab[..., 0])
    gx, gy = cv2.Sobel(lightness, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(lightness, cv2.CV_32F, 0, 1, ksize=3)
    across = np.abs(gx * regions.normal[..., 0] + gy * regions.normal[..., 1]) / 8.0  # Sobel's gain
    laplacian = cv2.Laplacian(lightness, cv2.CV_32F, ksize=3)
    blurred = cv2.GaussianBlur(lightness, (0, 0), max(FLICKER_BLUR_IOD * regions.iod_px, 0.8))
    xs = np.clip(np.round(regions.points[:, 0]).astype(int), 0, box.shape[1] - 1)
    ys = np.clip(np.round(regions.points[:, 1]).astype(int), 0, box.shape[0] - 1)
    skin = regions.skin if regions.skin.any() else regions.hull
    return PixelStats(
        skin_lab=lab[skin].mean(axis=0).astype(np.float64),
        seam_gradient=np.array(
            [
                across[regions.rings == k].mean() if (regions.rings == k).any() else np.nan
                for k in range(len(SEAM_RINGS_IOD))
            ]
        ),
        detail=float(laplacian[regions.inner].var()) if regions.inner.any() else float("nan"),
        point_lightness=np.asarray(blurred[ys, xs], np.float32),
    )


def skin_points(regions: FaceRegions) -> npt.NDArray[np.bool_]:
    """(478,) which mesh points lie on skin (for flicker: not lids, lips or brows, which move)."""
    xs = np.clip(np.round(regions.points[:, 0]).astype(int), 0, regions.skin.shape[1] - 1)
    ys = np.clip(np.round(regions.points[:, 1]).astype(int), 0, regions.skin.shape[0] - 1)
    return np.asarray(regions.skin[ys, xs], np.bool_)


def face_difference(regions: FaceRegions, a: ImageBGR, b: ImageBGR) -> float:
    """Mean absolute difference (8-bit levels, all channels) of two frames inside the face hull."""
    rows, cols = slice(regions.y0, regions.y1), slice(regions.x0, regions.x1)
    diff = np.abs(a[rows, cols].astype(np.int16) - b[rows, cols].astype(np.int16))
    return float(diff[regions.hull].mean()) if regions.hull.any() else 0.0


def untouched_mask(frame_hw: tuple[int, int], faces: list[Points]) -> Mask:
    """Pixels outside every face's hull grown by UNTOUCHED_MARGIN_IOD: what a swap should leave
    exactly as it was. The growing is a distance transform in a box around each face only."""
    h, w = frame_hw
    selected = np.ones((h, w), np.bool_)
    for landmarks in faces:
        p = np.asarray(landmarks, np.float64)[:, :2]
        grow = UNTOUCHED_MARGIN_IOD * max(inter_ocular(p), 2.0)
        x0, y0 = (max(0, int(v - grow - 2)) for v in p.min(axis=0))
        x1, y1 = (int(v + grow + 3) for v in p.max(axis=0))
        x1, y1 = min(w, x1), min(h, y1)
        if x1 <= x0 or y1 <= y0:
            continue
        hull = _fill((y1 - y0, x1 - x0), p[list(FACE_OVAL)] - (x0, y0))
        outside = cv2.distanceTransform(1 - hull, cv2.DIST_L2, 3) > grow
        selected[y0:y1, x0:x1] &= outside
    return selected


def untouched_error(dst: ImageBGR, other: ImageBGR, selected: Mask) -> tuple[float, int]:
    """(sum of squared errors, values compared) of two frames where `selected`."""
    keep = selected.astype(np.uint8)
    diff = cv2.absdiff(dst, other)
    diff = cv2.bitwise_and(diff, diff, mask=keep)
    return float(cv2.norm(diff, cv2.NORM_L2SQR)), 3 * int(cv2.countNonZero(keep))


def psnr(sse: float, count: int) -> float:
    """Peak signal-to-noise ratio (dB, 8-bit peak) of a summed squared error over `count` values."""
    if count == 0:
        return float("nan")
    mse = sse / count
    return float("inf") if mse <= 0 else float(10 * np.log10(255.0**2 / mse))

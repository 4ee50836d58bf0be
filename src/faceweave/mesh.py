"""Named point sets of mediapipe's 478-point face mesh, shared by every stage that reads one.

Contours run corner to corner in the mesh's own order; "right" and "left" are the face's own.
"""

from __future__ import annotations

# Inner lip contours from the image-left mouth corner (78) to the right one (308).
INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
# Outer lip contours, corner (61) to corner (291), without the corners' duplicates.
OUTER_LOWER = (146, 91, 181, 84, 17, 314, 405, 321, 375)
MOUTH_CORNERS = (61, 291)
# Inner lip ring: the mouth opening, where teeth and tongue show.
MOUTH_INNER = (*INNER_UPPER, *reversed(INNER_LOWER[1:-1]))
CHIN_POINT = 152
# The face's widest points, level with the eyes (where the jaw's hinge is, seen from the front).
CHEEK_SIDES = (234, 454)
# Brow contours (upper edge) of each side, outer to inner.
BROWS = ((70, 63, 105, 66, 107), (300, 293, 334, 296, 336))
# Upper and lower lid contours of each eye, corner to corner, paired point by point.
LIDS = (
    ((33, 246, 161, 160, 159, 158, 157, 173, 133), (33, 7, 163, 144, 145, 153, 154, 155, 133)),
    ((263, 466, 388, 387, 386, 385, 384, 398, 362), (263, 249, 390, 373, 374, 380, 381, 382, 362)),
)
# Each eye's iris centre and its four rim points (the refined mesh's last ten points).
IRISES = (tuple(range(468, 473)), tuple(range(473, 478)))
# The face oval, both eyes' outlines and the outer lips, as closed rings.
FACE_OVAL = (
    10,
    338,
    297,
    332,
    284,
    251,
    389,
    356,
    454,
    323,
    361,
    288,
    397,
    365,
    379,
    378,
    400,
    377,
    152,
    148,
    176,
    149,
    150,
    136,
    172,
    58,
    132,
    93,
    234,
    127,
    162,
    21,
    54,
    103,
    67,
    109,
)
EYES = (
    (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7),
    (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249),
)
MOUTH = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)

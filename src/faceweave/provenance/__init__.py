"""Provenance: every output says it is synthetic (signed C2PA manifest, plain tags) and `verify`
can tell. There is deliberately no option to turn any of it off."""

from faceweave import __version__

SYNTHETIC_NOTE = "Contains synthetic media: a face swapped by faceweave (AI-generated)"


def synthetic_tags() -> dict[str, str]:
    """Plain MP4 tags (comment, description) any player's info panel shows."""
    note = f"{SYNTHETIC_NOTE}; faceweave {__version__}"
    return {"comment": note, "description": note}

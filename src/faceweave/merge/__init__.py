"""Merging: the swapped face back into every dst frame (predict, mask, colour, paste, encode)."""

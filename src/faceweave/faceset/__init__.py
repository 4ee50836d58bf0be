"""Inspecting facesets."""

"""Presets are data: each TOML file here overrides some options of faceweave.toml."""

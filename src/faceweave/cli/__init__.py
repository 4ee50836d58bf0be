"""The `faceweave` command line: one small module per command."""

"""faceweave studio: the whole job from a browser, on the same workspace files the CLI uses."""

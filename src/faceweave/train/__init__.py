"""Training: data and augmentation, losses, the loop, checkpoints."""

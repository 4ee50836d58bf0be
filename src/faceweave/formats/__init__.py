"""File formats that are the contract between stages; no pickle anywhere."""

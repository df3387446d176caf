"""Errors of the explainers core, importable without loading torch (web processes never load it)."""
from __future__ import annotations


class CheckpointError(ValueError):
    """A checkpoint file that is missing, corrupt, truncated or does not match its architecture."""

"""Training of the invertible classifiers: one loop (loop.py) that every model family plugs into.

A family (glow.py, ibinn.py) brings its configuration, presets, data and loss; checkpoints.py reads and
writes every family's files with the same sha256 verification; run.py trains a configuration to a file.
"""

"""Datasets of the explainers core: procedural Two4Two, the scikit-learn digits, and the rendered-data cache."""

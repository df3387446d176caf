"""Datasets of the explainers core: procedural Two4Two, the scikit-learn digits, researchers' image folders and
zips (image_folder), and the rendered-data cache."""

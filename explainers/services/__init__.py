"""Business logic of the explainers app, one module per concern.

checkpoints (load, verify, register), training (train a model family into a checkpoint), audit (the bias
audit and the attribution comparison), held_out (held-out images and their cached logits), grid_configuration
(what a grid may be), grids (create, enqueue, regenerate, progress), grid_generation (the pregeneration a
worker runs), datasets (import researchers' images, register the digits or Two4Two, read any split),
classifiers (register, load and evaluate researchers' models), stimulus_sets (per-image explanations and
uploaded stimuli) and stimulus_set_generation (what a worker builds for a per-image set). torch is imported inside the functions that need it, so web processes never load it.
"""

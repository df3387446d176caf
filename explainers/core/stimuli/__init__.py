"""Stimuli for user studies: grid layouts built by calling the registered explanation methods, the images
participants see (encoded with explainers.core.pixels), composites and manifests."""

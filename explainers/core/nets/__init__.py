"""Invertible networks (plain torch, no Django).

``GlowClassifier`` is the seed study's invertible classifier (a multi-scale Glow with a linear classifier on
an intermediate layer); see glow.py.
"""
from .glow import GlowClassifier, GlowConfig, Latent, NetConfigError

__all__ = ["GlowClassifier", "GlowConfig", "Latent", "NetConfigError"]

"""Study designs: how a participant meets stimuli and items (DESIGN.md, "The shape it grows into").

A design owns its page flow, its allocation rule, its simulated-participant policy, its dashboard panel
and its analysis. The registry (``registry.py``) is the only thing the rest of the platform imports;
each design registers itself when its Django app is ready, so the core services never import a design.
"""

"""The plain-torch core of the explainers app: datasets, networks, training, explanation methods, stimuli.

Nothing under this package imports Django, so it runs in notebooks, scripts and workers alike; the Django
app around it (models, services, tasks, API) calls into it. Importing this package loads nothing heavy.
"""

"""Evaluations of models and explanations: the bias audit and the attribution comparison of the seed study."""

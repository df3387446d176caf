"""Tiny, briefly trained IB-INN models shared by the ECINN/IB-INN tests (cached for the whole session)."""
from __future__ import annotations

import copy
import functools

import torch

from explainers.core.nets.ibinn import IBINNConfig
from explainers.core.training.ibinn import IBINNTrainConfig
from explainers.core.training.ibinn import dataset_arrays as ibinn_dataset_arrays
from explainers.core.training.loop import train as ibinn_train

#: Raw 8×8 digits, one level, two dense couplings: ~90 % test accuracy after 80 steps (about 10 s on 1 core).
TINY_DIGITS = IBINNTrainConfig(
    net=IBINNConfig(image_size=8, in_channels=1, num_classes=10, levels=1, steps_per_level=1, hidden_channels=8,
                    dense_steps=2, dense_hidden=64),
    dataset="digits", steps=80, batch_size=32, learning_rate=5e-3, warmup_steps=10, eval_every=1000,
)


@functools.lru_cache(maxsize=1)
def digits_data():
    return ibinn_dataset_arrays(TINY_DIGITS)


@functools.lru_cache(maxsize=1)
def _trained_digits():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return ibinn_train(TINY_DIGITS, data=digits_data()).model
    finally:
        torch.set_num_threads(threads)


def tiny_digits_model(dtype: torch.dtype = torch.float64):
    """A fresh copy (tests may modify it) of the trained tiny digits IB-INN, in eval mode."""
    return copy.deepcopy(_trained_digits()).to(dtype).eval()

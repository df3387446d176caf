"""The one pixel convention: training, methods, stimuli and evaluation encode 8-bit images the same way."""
from __future__ import annotations

import numpy as np
import torch

from explainers.core import pixels
from explainers.core.datasets import two4two
from explainers.core.methods._base import images_to_tensor
from explainers.core.stimuli.encoding import model_input
from explainers.core.stimuli.manifest import read_png, write_png
from tests.explainers.tiny_model import tiny_model


def test_decoding_is_the_exact_inverse_of_encoding():
    values = np.arange(256, dtype=np.uint8).reshape(1, 16, 16).repeat(3, 0).transpose(1, 2, 0)[None]
    assert np.array_equal(pixels.to_uint8(pixels.to_tensor(values)), values)
    grey = values[..., 0]
    assert np.array_equal(pixels.to_uint8(pixels.to_tensor(grey)), grey)


def test_every_training_sample_lies_in_the_bin_of_its_pixel_and_the_encoding_is_its_centre():
    images = two4two.sample(4, seed=2, size=16)[0]
    generator = torch.Generator().manual_seed(0)
    samples = torch.stack([pixels.dequantize(images, generator) for _ in range(200)])
    assert torch.equal(torch.floor(samples * 256).to(torch.uint8)[0], torch.from_numpy(images).permute(0, 3, 1, 2))
    assert (samples.mean(0) - pixels.to_tensor(images)).abs().max() < 0.5 / 256 * 0.2


def test_a_png_written_and_read_back_encodes_exactly_as_the_model_was_scored(tmp_path):
    model = tiny_model(torch.float32)
    images = two4two.sample(3, seed=5, size=16)[0]
    decoded = pixels.to_uint8(model.decode(model.encode(pixels.to_tensor(images)))).copy()
    for i, image in enumerate(decoded):
        write_png(image, tmp_path / f"{i}.png")
    read_back = np.stack([read_png(tmp_path / f"{i}.png") for i in range(len(decoded))])
    assert np.array_equal(read_back, decoded)
    shown = model_input(model, read_back)
    assert torch.equal(shown, pixels.to_tensor(decoded))
    assert torch.equal(shown, images_to_tensor(read_back, "test", dtype=torch.float32, device="cpu"))
    with torch.no_grad():
        assert torch.equal(model.logit(shown), model.logit(pixels.to_tensor(decoded)))

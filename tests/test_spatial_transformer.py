"""The spatial transformer (perception/spatial_transformer.py) and its use in the agents' image encoder."""

import pytest
import torch

from agents.nets.vision import ImageEncoder
from envs.errors import ConfigError
from perception.spatial_transformer import SpatialTransformer, warp

torch.set_num_threads(1)


def test_a_new_transformer_reproduces_its_input() -> None:
    torch.manual_seed(0)
    images = torch.rand(3, 3, 16, 20)
    stn = SpatialTransformer()
    assert torch.allclose(stn.theta(images), torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(3, 2, 3))
    assert torch.allclose(stn(images), images, atol=1e-5)


def test_identity_theta_reproduces_any_image_and_channels() -> None:
    images = torch.rand(2, 5, 8, 8)
    theta = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3)
    assert torch.allclose(warp(images, theta), images, atol=1e-5)


def test_a_known_translation_shifts_the_image() -> None:
    """theta's x offset of 2/W * k reads k pixels to the right: the content moves k pixels left."""
    h, w, k = 8, 16, 3
    images = torch.zeros(1, 1, h, w)
    images[0, 0, 2:5, 6:9] = 1.0  # a 3x3 square at columns 6..8
    theta = torch.tensor([[[1.0, 0, 2.0 * k / w], [0, 1.0, 0]]])
    out = warp(images, theta)
    expected = torch.zeros_like(images)
    expected[0, 0, 2:5, 6 - k:9 - k] = 1.0
    assert torch.allclose(out, expected, atol=1e-5)
    # and down by 2 rows with the y offset (negative: read above, content moves down)
    theta = torch.tensor([[[1.0, 0, 0], [0, 1.0, -2.0 * 2 / h]]])
    expected = torch.zeros_like(images)
    expected[0, 0, 4:7, 6:9] = 1.0
    assert torch.allclose(warp(images, theta), expected, atol=1e-5)


def test_the_transformer_learns_and_the_encoder_uses_it() -> None:
    torch.manual_seed(0)
    stn = SpatialTransformer()
    images = torch.rand(2, 3, 16, 16)
    stn(images).square().mean().backward()
    assert stn.locate[-1].bias.grad.abs().sum() > 0  # gradients reach theta through the sampling
    encoder = ImageEncoder(keypoints=4, channels=8, spatial_transformer=True)
    assert isinstance(encoder.transformer, SpatialTransformer)
    assert encoder(torch.randint(0, 255, (2, 16, 16, 3), dtype=torch.uint8)).shape == (2, 8)


def test_bad_shapes_fail_with_the_shapes() -> None:
    with pytest.raises(ConfigError, match=r"\(2, 3, 3\)"):
        warp(torch.rand(2, 1, 4, 4), torch.rand(2, 3, 3))
    with pytest.raises(ConfigError, match="0"):
        SpatialTransformer(in_channels=0)

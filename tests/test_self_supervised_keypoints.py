"""Self-supervised keypoints (perception/self_supervised_keypoints.py): parts, and learning moving squares."""

import numpy as np
import pytest
import torch

from envs.errors import ConfigError
from perception.self_supervised_keypoints import (
    KeypointAutoencoder,
    SelfSupervisedConfig,
    fit_self_supervised,
    frame_pairs,
    gaussian_render,
    linear_probe,
    spatial_softmax,
)

torch.set_num_threads(1)


def test_spatial_softmax_finds_a_sharp_peak_and_gaussians_render_there() -> None:
    maps = torch.full((1, 2, 8, 16), -50.0)
    maps[0, 0, 2, 12] = 50.0  # row 2, column 12
    maps[0, 1, 7, 0] = 50.0
    kp = spatial_softmax(maps)
    centre = lambda i, n: -1 + (2 * i + 1) / n  # noqa: E731 (cell centres in [-1, 1])
    assert kp[0, 0].tolist() == pytest.approx([centre(12, 16), centre(2, 8)], abs=1e-4)
    assert kp[0, 1].tolist() == pytest.approx([centre(0, 16), centre(7, 8)], abs=1e-4)
    g = gaussian_render(kp, (8, 16), 0.1)
    assert g.shape == (1, 2, 8, 16)
    assert np.unravel_index(int(g[0, 0].argmax()), (8, 16)) == (2, 12)
    assert float(g.max()) == pytest.approx(1.0)


def test_frame_pairs_stay_in_the_episode_and_start_at_its_first_frame() -> None:
    episodes = np.array([3, 3, 3, 7, 7, 9])
    ref, tgt = frame_pairs(episodes, np.random.default_rng(0), 50)
    assert (episodes[ref] == episodes[tgt]).all()
    assert set(ref.tolist()) <= {0, 3, 5}


def test_bad_config_and_shapes_fail_with_the_value() -> None:
    with pytest.raises(ConfigError, match="keypoints.*0"):
        SelfSupervisedConfig(keypoints=0)
    with pytest.raises(ConfigError, match=r"\(30, 32\)"):
        KeypointAutoencoder(keypoints=2, width=4).keypoints(torch.zeros(1, 4, 30, 32))


def moving_squares(episodes: int, frames: int, seed: int,
                   size: int = 32) -> tuple[dict, np.ndarray, np.ndarray]:
    """A fixed background (gradient, a static grey disk) and one red square that moves between frames."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    background = np.stack([xx * 4, yy * 4, np.full_like(xx, 90)], axis=-1).astype(np.uint8)
    background[(yy - 24) ** 2 + (xx - 8) ** 2 < 16] = 160
    n = episodes * frames
    rgb = np.repeat(background[None], n, axis=0)
    depth = np.ones((n, size, size), np.float32)
    centres = np.zeros((n, 2), np.float32)
    for i in range(n):
        x, y = rng.integers(2, size - 8, 2)
        rgb[i, y:y + 6, x:x + 6] = (230, 20, 20)
        depth[i, y:y + 6, x:x + 6] = 0.95
        centres[i] = (x + 3, y + 3)
    return {"image_rgb": rgb, "image_depth": depth}, np.repeat(np.arange(episodes), frames), centres


def test_it_learns_where_a_moving_square_is_without_labels() -> None:
    scenes, episodes, centres = moving_squares(8, 8, seed=0)
    test, _, test_centres = moving_squares(2, 16, seed=1)
    config = SelfSupervisedConfig(keypoints=2, width=8, sigma=0.15, steps=250, batch_size=8, lr=3e-3)
    model, history = fit_self_supervised(scenes, episodes, config, progress=False)
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    kp_train = model.predict(scenes["image_rgb"], scenes["image_depth"]).reshape(len(centres), -1)
    kp_test = model.predict(test["image_rgb"], test["image_depth"]).reshape(len(test_centres), -1)
    probe = linear_probe(kp_train, centres, kp_test, test_centres)
    # the square's centre (pixels) from the keypoints, held-out frames: far better than the mean
    assert probe["probe_error"] < 0.3 * probe["mean_error"], probe
    assert probe["r2"] > 0.8, probe

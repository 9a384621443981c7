"""The pixel world model: shapes, fitting, overfitting a tiny batch, bad input, deterministic rollouts."""

import numpy as np
import pytest
import torch

from envs import ConfigError
from world_models.pixel_dynamics import (
    PixelModelConfig,
    build_pixel_model,
    fit_pixels,
    fit_probe,
    load_pixel_model,
    sequence_loss,
    to_model_images,
    window_latents,
)
from world_models.pixel_mpc import PixelMPCAgent, latent_objective
from world_models.planners import PlannerConfig

torch.set_num_threads(1)
TINY = {"image_size": 16, "channels": [4, 4, 8, 8], "embed": 16, "deter": 16, "stoch": 4, "hidden": 16,
        "chunk": 6, "context": 2, "batch_size": 4}


def dot_episode(rng: np.random.Generator, length: int = 12, size: int = 16) -> dict[str, torch.Tensor]:
    """A bright 2x2 dot the action moves a pixel per step; the reward: minus its distance to the centre."""
    pos, images, actions, rewards = rng.integers(4, size - 4, 2), [], [], []
    for _ in range(length):
        img = torch.full((3, size, size), -0.5)
        img[:, pos[1]:pos[1] + 2, pos[0]:pos[0] + 2] = 0.5
        images.append(img)
        a = rng.uniform(-1, 1, 2)
        actions.append(torch.tensor(a, dtype=torch.float32))
        pos = np.clip(pos + np.sign(a).astype(int), 0, size - 2)
        rewards.append(-float(np.abs(pos - size / 2).sum()) / size)
    cube = torch.zeros(length, 2)
    return {"images": torch.stack(images), "actions": torch.stack(actions), "rewards": torch.tensor(rewards),
            "cube": cube}


def batch_of(episodes: list[dict], chunk: int) -> dict[str, torch.Tensor]:
    """The first ``chunk`` frames of each episode, stacked: a fixed batch."""
    return {k: torch.stack([e[k][:chunk] for e in episodes]) for k in episodes[0]}


def test_shapes_of_encoding_filtering_imagining_and_heads() -> None:
    model = build_pixel_model(2, TINY)
    b, t, h = 3, 5, 4
    embeds = model.encode(torch.zeros(b, t, 3, 16, 16))
    assert embeds.shape == (b, t, 16)
    latents, stats = model.observe(embeds, torch.zeros(b, t, 2))
    assert len(latents) == t and latents[-1]["h"].shape == (b, 16) and latents[-1]["z"].shape == (b, 4)
    assert stats[0][0] is None and stats[1][0][0].shape == (b, 4)
    dream = model.imagine(latents[-1], torch.zeros(b, h, 2))
    assert len(dream) == h
    assert model.decode(dream[0].feat).shape == (b, 3, 16, 16)
    assert model.reward(dream[0]).shape == (b,) and model.probe(dream[0]).shape == (b, 2)


def test_a_short_fit_reduces_the_loss() -> None:
    rng = np.random.default_rng(0)
    episodes = [dot_episode(rng) for _ in range(6)]
    model = build_pixel_model(2, {**TINY, "train_steps": 40, "learning_rate": 3e-3})
    fixed = batch_of(episodes, 6)
    with torch.no_grad():
        before, _ = sequence_loss(model.eval(), fixed)
    history = fit_pixels(model, episodes)
    with torch.no_grad():
        after, _ = sequence_loss(model, fixed)
    assert history[-1]["step"] == 40
    assert after < 0.7 * before, (before, after)


def test_overfits_a_tiny_sequence_batch() -> None:
    rng = np.random.default_rng(1)
    batch = batch_of([dot_episode(rng) for _ in range(2)], 6)
    model = build_pixel_model(2, {**TINY, "sample": False, "free_nats": 0.0})
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    first = None
    for _ in range(100):
        loss, parts = sequence_loss(model, batch)
        first = first or parts
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert parts["open_recon"] < 0.2 * first["open_recon"], (first, parts)
    assert parts["open_reward"] < 0.01, parts


def test_an_image_of_another_size_is_refused_with_the_fix() -> None:
    model = build_pixel_model(2, TINY)
    with pytest.raises(ConfigError, match=r"\(\.\.\., 3, 16, 16\).*to_model_images"):
        model.encode(torch.zeros(1, 3, 32, 32))
    assert to_model_images(np.zeros((2, 32, 32, 3), np.uint8), 16).shape == (2, 3, 16, 16)


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ConfigError, match="multiple of 16"):
        PixelModelConfig(image_size=40)
    with pytest.raises(ConfigError, match="context"):
        PixelModelConfig(chunk=4, context=4)


def test_latent_rollout_is_deterministic_with_the_stochastic_part_off() -> None:
    model = build_pixel_model(2, TINY).eval()
    start = model.observe(model.encode(torch.rand(1, 2, 3, 16, 16) - 0.5), torch.zeros(1, 2, 2))[0][-1]
    actions = torch.rand(7, 5, 2) * 2 - 1
    objective = latent_objective(model, start)
    assert torch.equal(objective(actions), objective(actions))
    start7 = type(start)(h=start["h"].expand(7, -1), z=start["z"].expand(7, -1))
    a, b = model.imagine(start7, actions), model.imagine(start7, actions)
    assert all(torch.equal(x.feat, y.feat) for x, y in zip(a, b, strict=True))
    sampled = model.imagine(start7, actions, sample=True)
    assert not torch.equal(sampled[-1].feat, a[-1].feat)  # sampling does change it


def test_the_pixel_mpc_agent_acts_and_names_a_missing_key(tmp_path) -> None:
    model = build_pixel_model(2, TINY)
    torch.save(model.checkpoint({"camera": "top"}), tmp_path / "pixels.pt")
    loaded, extra = load_pixel_model(str(tmp_path / "pixels.pt"))
    assert extra == {"camera": "top"}
    agent = PixelMPCAgent(loaded, PlannerConfig(horizon=3, samples=20, iterations=2, elites=5))
    agent.reset()
    obs = {"top_rgb": np.zeros((96, 96, 3), np.uint8)}
    for _ in range(4):  # the filter window fills up to ``context`` frames
        action = agent.act(obs)
    assert action.shape == (2,) and action.dtype == np.float32 and np.abs(action).max() <= 1
    assert len(agent.embeds) == TINY["context"]
    with pytest.raises(ConfigError, match="top_rgb"):
        agent.act({"front_rgb": obs["top_rgb"]})


def test_the_probe_refit_fits_the_frozen_latents() -> None:
    rng = np.random.default_rng(3)
    episodes = [dot_episode(rng) for _ in range(3)]
    for e in episodes:
        e["cube"] = torch.full((12, 2), 0.3) + 0.01 * torch.randn(12, 2)
    model = build_pixel_model(2, TINY)
    before = [p.clone() for p in model.encoder.parameters()]
    rms = fit_probe(model, episodes, steps=200)
    lat, ts = window_latents(model, episodes[0])
    assert lat.feat.shape == (12 - TINY["context"] + 1, 20) and int(ts[0]) == TINY["context"] - 1
    assert rms < 5.0, rms  # cm; predicting zeros would be 42 cm off
    assert all(torch.equal(a, b) for a, b in zip(before, model.encoder.parameters(), strict=True))

"""Implicit BC: the energy model keeps two modes apart, and the agent trains and acts on a task."""

import numpy as np
import pytest
import torch

from agents import TrainingSource, find_method, load_agent, make_config
from agents.ibc import IBCConfig, fit_energy
from dataset import DemoDataset
from envs import ConfigError
from tests.conftest import PUSH_CUBE, collect


def test_ibc_recovers_a_two_mode_mapping_where_the_average_is_wrong() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (2000, 1)).astype(np.float32)
    modes = 0.3 + 0.5 * x  # a = +-(0.3 + 0.5 x): the MSE answer, 0, is never demonstrated
    a = (rng.choice([-1, 1], (2000, 1)) * modes).astype(np.float32)
    cfg = IBCConfig(steps=1000, hidden_sizes=[64, 64], batch_size=64, counter_examples=31, samples=256)
    model = fit_energy(x, a, cfg)
    query = torch.linspace(0.05, 0.95, 10)[:, None]
    found = model.argmin(query, cfg, torch.Generator().manual_seed(0))[:, 0]
    np.testing.assert_allclose(found.abs(), 0.3 + 0.5 * query[:, 0], atol=0.05)
    with torch.no_grad():
        energies = model(query, torch.stack([0.3 + 0.5 * query, -(0.3 + 0.5 * query),
                                             torch.zeros_like(query)], dim=1))
    assert (energies[:, 2] > energies[:, :2].max(dim=1).values).all()  # the average is unlikely


def test_ibc_trains_on_a_dataset_acts_in_bounds_and_round_trips(tmp_path) -> None:
    data = DemoDataset(collect(tmp_path / "demos", 3))
    config = make_config("ibc", {"steps": 50, "hidden_sizes": [32], "samples": 64})
    agent = find_method("ibc").fit(config, TrainingSource.from_dataset(data, progress=False))
    obs = np.asarray(data.episode(0).observations["state"][0])
    action = agent.act(obs)
    assert action.shape == (2,) and action.dtype == np.float32 and np.abs(action).max() <= 1.0
    again = load_agent(agent.save(tmp_path / "ibc.pt"))
    np.testing.assert_array_equal(again.state()["model"]["low"], agent.state()["model"]["low"])
    assert again.meta.method == "ibc" and again.meta.extra["frames"] == data.num_frames


def test_ibc_refuses_images_with_a_hint(tmp_path) -> None:
    data = DemoDataset(collect(tmp_path / "rgb", 1, obs_mode="rgb"))
    source = TrainingSource(PUSH_CUBE, {"obs_mode": "rgb"}, dataset=data, progress=False)
    with pytest.raises(ConfigError, match="camera images"):
        find_method("ibc").fit(make_config("ibc", {"obs_keys": ["top_rgb"]}), source)

"""Shared fixtures: small generated data only (nothing is downloaded)."""

from pathlib import Path

import gymnasium as gym
import pytest
import torch

import envs  # noqa: F401  (registers ids and selects headless GL before mujoco loads)
from agents.experts import PushCubeExpert
from dataset import DatasetWriter
from loop.collect import collect as collect_demos
from loop.relabel import Relabelled

# Two torch threads slow ~50x whenever another process holds a core (pytest-xdist, a benchmark).
torch.set_num_threads(1)

PUSH_CUBE = "roboloop/PushCube-v0"
ROOT = Path(__file__).resolve().parents[1]  # the repository


def collect(root: Path, episodes: int, obs_mode: str = "state", noise: float = 0.6, **options) -> Path:
    """Expert demos with DART noise, as scripts/collect_demos.py records them."""
    kwargs = {"obs_mode": obs_mode, "privileged_state": True, **options}
    env = gym.make(PUSH_CUBE, **kwargs)
    writer = DatasetWriter(root, env_id=PUSH_CUBE, env_kwargs=kwargs, fps=20)
    collect_demos(env, Relabelled(PushCubeExpert(), noise_std=noise), range(episodes), writer,
                  progress=None)
    env.close()
    return root


@pytest.fixture(scope="session")
def demo_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 state-mode PushCube demonstrations."""
    return collect(tmp_path_factory.mktemp("demos") / "dataset", 30)

"""Behaviour cloning: it fits, it learns PushCube on a small budget, checkpoints are safe."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents import TrainingSource, load_agent, make_config
from agents.bc import BCAgent, BCConfig
from agents.bc.policy import BCPolicy
from agents.checkpoint import CheckpointError
from agents.normalizer import Normalizer
from dataset import DemoDataset
from envs import ConfigError
from loop import evaluate
from loop.evaluation import evaluation_seeds
from perception import ObservationKeyError
from tests.conftest import PUSH_CUBE

SMALL = dict(hidden_sizes=[256, 256], steps=2000, batch_size=256)


def train_bc(data: DemoDataset, cfg: BCConfig) -> BCAgent:
    return BCAgent.fit(cfg, TrainingSource.from_dataset(data, progress=False))


@pytest.fixture(scope="module")
def small_agent(demo_dataset) -> BCAgent:
    return train_bc(DemoDataset(demo_dataset), BCConfig(**SMALL))


def test_overfits_one_batch() -> None:
    torch.manual_seed(0)
    obs, act = torch.randn(32, 14), torch.rand(32, 2) * 2 - 1
    cfg = BCConfig(hidden_sizes=[128, 128])
    policy = BCPolicy(14, 2, cfg.hidden_sizes, Normalizer.fit(obs.numpy()), Normalizer.fit(act.numpy()))
    opt = torch.optim.Adam(policy.parameters(), lr=3e-3)
    for _ in range(400):
        loss = policy.loss(obs, act)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3


def test_bc_learns_push_cube_on_a_small_budget(small_agent) -> None:
    # 30 demos, 2000 steps of a 256x256 MLP (~5 s): 30-50% over training seeds 0-2 here, against
    # 0% for a policy that does nothing. The full recipe (100 demos) reaches ~93%: docs/results.md.
    env, seeds = gym.make(PUSH_CUBE), evaluation_seeds(20)
    idle = evaluate(env, StillAgent(), seeds, progress=None)
    summary = evaluate(env, small_agent, seeds, progress=None)
    assert idle.success_rate == 0.0
    assert summary.success_rate >= 0.25, summary.headline()


class StillAgent:
    def reset(self) -> None:
        pass

    def act(self, features) -> np.ndarray:
        return np.zeros(2, np.float32)


def test_checkpoint_round_trip_gives_identical_actions(small_agent, tmp_path) -> None:
    path = small_agent.save(tmp_path / "ckpt.pt")
    loaded = load_agent(path)
    obs = gym.make(PUSH_CUBE).reset(seed=100)[0]
    np.testing.assert_array_equal(small_agent.act(obs), loaded.act(obs))
    assert loaded.meta == small_agent.meta
    assert loaded.meta.env_id == PUSH_CUBE and loaded.meta.train_seeds == [(0, 30)]
    assert loaded.meta.training == "offline" and loaded.meta.action_space["type"] == "box"
    assert not list(tmp_path.glob(".*tmp*")), "no temporary files are left behind"


class Payload:
    """A class a pickle would import and instantiate."""


def test_checkpoints_that_need_unpickling_are_refused(tmp_path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": "roboloop.checkpoint", "version": 2, "x": Payload()}, path)
    with pytest.raises(CheckpointError, match="weights-only"):
        load_agent(path)
    (tmp_path / "cut.pt").write_bytes(path.read_bytes()[:40])
    with pytest.raises(CheckpointError):
        load_agent(tmp_path / "cut.pt")
    with pytest.raises(FileNotFoundError, match="checkpoint.pt"):
        load_agent(tmp_path / "missing.pt")


def test_unknown_agent_and_option_names_list_the_valid_ones() -> None:
    known = r"known agents: \['bc', 'dagger', 'diffusion', 'dqn', 'ibc', 'knn', .*'sac'\]"
    with pytest.raises(ConfigError, match=known):
        make_config("diffusion_transformer", {})
    with pytest.raises(ConfigError, match="hidden_sizes"):
        make_config("bc", {"hiden_sizes": [8]})
    with pytest.raises(ValueError, match="steps must be > 0, got 0"):
        BCConfig(steps=0)


def test_act_rejects_nan_and_missing_keys(small_agent) -> None:
    with pytest.raises(ValueError, match="NaN"):
        small_agent.act(np.full(14, np.nan, np.float32))
    with pytest.raises(ObservationKeyError, match="obs_keys"):
        small_agent.act({"top_rgb": np.zeros((96, 96, 3), np.uint8)})


@pytest.mark.slow
def test_full_recipe_reaches_80_percent(tmp_path) -> None:
    """What `make demo` does (100 DART demos, default BC), on 50 held-out seeds (~2 min)."""
    from tests.conftest import collect

    data = DemoDataset(collect(tmp_path / "ds", 100))
    agent = train_bc(data, BCConfig())
    summary = evaluate(gym.make(PUSH_CUBE), agent, evaluation_seeds(50), progress=None)
    assert summary.success_rate >= 0.8, summary.headline()


def test_the_image_network_overfits_a_tiny_batch() -> None:
    from agents.bc.network import BCNetwork

    torch.manual_seed(0)
    cfg = BCConfig(obs_keys=["cam_rgb", "proprio"], hidden_sizes=[64, 64], shift=0, image_keypoints=8)
    net = BCNetwork({"cam_rgb": (24, 24, 3), "proprio": (2,)}, {"cam_rgb": "uint8", "proprio": "float32"},
                    cfg, action_dim=2, num_discrete=None)
    obs = {"cam_rgb": torch.randint(0, 255, (16, 1, 24, 24, 3), dtype=torch.uint8),
           "proprio": torch.randn(16, 1, 2)}
    actions, pad = torch.rand(16, 1, 2) * 2 - 1, torch.zeros(16, 1, dtype=torch.bool)
    net.action_norm = Normalizer.fit(actions.reshape(-1, 2).numpy())
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(400):
        loss = net.loss(obs, actions, pad)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.02


def test_the_mixture_head_keeps_two_modes_where_mse_averages_them() -> None:
    from agents.nets.heads import MixtureHead, MSEHead

    torch.manual_seed(0)
    x = torch.rand(2048, 1) * 2 - 1
    y = ((torch.randint(0, 2, (2048, 1)) * 2 - 1) * (0.5 + 0.5 * x)).reshape(-1, 1, 1)  # +-(0.5 + x/2)
    pad = torch.zeros(2048, 1, dtype=torch.bool)
    predictions = {}
    for name, head in (("mse", MSEHead(32, 1, 1)), ("mixture", MixtureHead(32, 1, 1, 4))):
        trunk = torch.nn.Sequential(torch.nn.Linear(1, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32),
                                    torch.nn.ReLU())
        opt = torch.optim.Adam([*trunk.parameters(), *head.parameters()], lr=3e-3)
        for _ in range(800):
            loss = head.loss(trunk(x), y, pad)
            opt.zero_grad()
            loss.backward()
            opt.step()
        predictions[name] = head.predict(trunk(torch.tensor([[0.0], [0.8]]))).reshape(-1).abs()
    assert (predictions["mse"] < 0.25).all()  # the average of the two modes: an invalid action
    assert torch.allclose(predictions["mixture"], torch.tensor([0.5, 0.9]), atol=0.08)  # one real mode


def test_chunked_bc_predicts_every_ta_steps_from_a_history(tmp_path) -> None:
    from tests.conftest import collect

    data = DemoDataset(collect(tmp_path / "ds", 2, obs_mode="rgb", image_size=24))
    cfg = BCConfig(obs_keys=["top_rgb", "proprio"], obs_horizon=2, action_horizon=4, action_steps=3,
                   steps=20, batch_size=8, hidden_sizes=[32])
    agent = train_bc(data, cfg)
    calls = []
    forward = agent.model.forward
    agent.model.forward = lambda obs: calls.append(obs["top_rgb"].shape) or forward(obs)
    env = gym.make(PUSH_CUBE, obs_mode="rgb", image_size=24, horizon=7)
    from loop import rollout

    assert rollout(env, agent, seed=100_000).length == 7
    assert calls == [(1, 2, 24, 24, 3)] * 3  # steps 0, 3 and 6; each sees two frames
    loaded = load_agent(agent.save(tmp_path / "bc.pt"))
    obs = env.reset(seed=100_001)[0]
    agent.reset()
    np.testing.assert_array_equal(agent.act(obs), loaded.act(obs))


def test_bad_bc_setups_fail_before_training(demo_dataset) -> None:
    from dataset import DatasetKeyError

    with pytest.raises(DatasetKeyError, match="top_rgb"):
        train_bc(DemoDataset(demo_dataset), BCConfig(obs_keys=["top_rgb"], steps=5))
    with pytest.raises(ConfigError, match="action_steps"):
        BCConfig(action_horizon=2, action_steps=3)
    with pytest.raises(ConfigError, match="head"):
        BCConfig(head="diffusion")


def test_refitting_a_normalizer_keeps_the_network_function() -> None:
    from agents.bc.network import BCNetwork

    rng = np.random.default_rng(0)
    first = rng.normal(size=(50, 5)).astype(np.float32)
    later = (rng.normal(size=(80, 5)) * 3 + 2).astype(np.float32)  # DAgger's states: far from the demos
    policy = BCPolicy(5, 2, [16], Normalizer.fit(first), Normalizer.fit(first[:, :2]))
    x = torch.from_numpy(later)
    before = policy(x)
    policy.obs_norm.refit_into(later, policy.net[0], torch.arange(5))
    torch.testing.assert_close(policy(x), before, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(policy.obs_norm.mean, torch.from_numpy(later.mean(0)))

    cfg = BCConfig(obs_keys=["state", "proprio"], obs_horizon=3, hidden_sizes=[16])
    net = BCNetwork({"state": (5,), "proprio": (2,)}, {"state": "float32", "proprio": "float32"}, cfg, 2,
                    None)
    net.norms["state"], net.norms["proprio"] = Normalizer.fit(first), Normalizer.fit(first[:, :2])
    net.action_norm = Normalizer.fit(first[:, :2])
    obs = {"state": x[:30].reshape(10, 3, 5), "proprio": x[:30, :2].reshape(10, 3, 2)}
    before = net(obs)
    net.refit_normalizers({"state": later, "proprio": later[:, :2]})
    torch.testing.assert_close(net(obs), before, atol=1e-5, rtol=1e-5)

"""DQN, SAC and PPO through stable-baselines3 as roboloop learners: tiny budgets, every path."""

import json

import gymnasium as gym
import numpy as np
import pytest

import envs
from agents import TrainingSource, find_method, load_agent, make_config
from agents.rl.policy_input import PolicyInput
from envs import ConfigError, EnvConfigError
from loop import evaluate, rollout
from loop.evaluation import evaluation_seeds
from tests.test_scripts import ok, run

CART_POLE, REACH = "roboloop/CartPole-v0", "roboloop/Reach-v0"
TINY = {
    "dqn": {"total_steps": 600, "learning_starts": 100, "train_freq": 50, "gradient_steps": 10,
            "eval_every": 300, "eval_episodes": 2, "net_arch": [32]},
    "sac": {"total_steps": 300, "learning_starts": 100, "batch_size": 32, "eval_every": 150,
            "eval_episodes": 2, "net_arch": [32]},
    "ppo": {"total_steps": 256, "n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 2,
            "eval_every": 128, "eval_episodes": 2, "net_arch": [32]},
}


def fit(method: str, env_id: str, env_kwargs: dict | None = None, **options):
    source = TrainingSource(env_id, env_kwargs or {}, progress=False)
    return find_method(method).fit(make_config(method, {**TINY[method], **options}), source)


@pytest.mark.parametrize(("method", "env"), [("dqn", "cart_pole"), ("sac", "reach"), ("ppo", "reach")])
def test_each_algorithm_trains_and_evaluates_through_the_train_script(method, env, tmp_path) -> None:
    options = [f"agent.{k}={json.dumps(v).replace(' ', '')}" for k, v in TINY[method].items()]
    out = ok(run("train.py", f"agent={method}", f"env={env}", "env.kwargs.horizon=50", *options,
                 "eval.episodes=2", "eval.videos=0", f"hydra.run.dir={tmp_path}"))
    assert f"{method} on roboloop/" in out.stdout
    for name in ("checkpoint.pt", "best.pt", "last.pt", "metrics.json", "learning_curve.png", "tb"):
        assert (tmp_path / name).exists(), name
    curve = json.loads((tmp_path / "learning_curve.json").read_text())
    assert [p["step"] for p in curve][:2] == [TINY[method]["eval_every"], 2 * TINY[method]["eval_every"]]
    assert load_agent(tmp_path / "checkpoint.pt").meta.method == method


def test_resume_continues_the_step_count_and_the_curve(tmp_path) -> None:
    options = [f"agent.{k}={json.dumps(v).replace(' ', '')}" for k, v in TINY["dqn"].items()]
    args = ["train.py", "agent=dqn", "env=cart_pole", "env.kwargs.horizon=50", *options, "eval.episodes=1",
            "eval.videos=0", f"hydra.run.dir={tmp_path}"]
    ok(run(*args))
    first = load_agent(tmp_path / "last.pt")
    ok(run(*args, "agent.total_steps=1200", "resume=true"))
    last = load_agent(tmp_path / "last.pt")
    assert first.meta.extra["env_steps"] >= 600 and last.meta.extra["env_steps"] >= 1200
    steps = [p["step"] for p in json.loads((tmp_path / "learning_curve.json").read_text())]
    assert steps == sorted(steps) and steps[-1] >= 1200 and 600 in steps
    assert last.meta.train_seeds[0][1] > first.meta.train_seeds[0][1]  # new episodes, new seeds
    proc = run("train.py", "agent=ppo", "env=cart_pole", "resume=true", f"hydra.run.dir={tmp_path}")
    assert proc.returncode != 0 and "is a dqn checkpoint" in proc.stderr


@pytest.mark.parametrize(("method", "env_id"), [("dqn", CART_POLE), ("sac", REACH), ("ppo", CART_POLE)])
def test_saved_agents_act_identically_and_run_in_the_loop(method: str, env_id: str, tmp_path) -> None:
    agent = fit(method, env_id, {"horizon": 50})
    loaded = load_agent(agent.save(tmp_path / "agent.pt"))
    env = gym.make(env_id, horizon=50)
    for seed in (100_000, 100_001):
        obs = env.reset(seed=seed)[0]
        np.testing.assert_array_equal(agent.act(obs), loaded.act(obs))
    result = rollout(env, loaded, seed=100_002)
    assert result.length > 0 and loaded.meta.training == "online"
    summary = evaluate(env, loaded, evaluation_seeds(2), progress=None)
    assert summary.episodes == 2
    lo, hi = loaded.meta.train_seeds[0]
    assert 0 <= lo < hi <= 90_000  # training episodes used training seeds only


def test_pixel_policies_stack_frames_through_a_cnn(tmp_path) -> None:
    agent = fit("dqn", CART_POLE, {"obs_mode": "rgb", "image_size": 40, "horizon": 30},
                obs_keys=["front_rgb"], frame_stack=2, total_steps=200, eval_every=100)
    assert agent.meta.extra["policy"] == "CnnPolicy"
    assert agent.policy.observation_space.shape == (6, 40, 40)  # two RGB frames, channel-first
    env = gym.make(CART_POLE, obs_mode="rgb", image_size=40, horizon=30)
    assert rollout(env, load_agent(agent.save(tmp_path / "a.pt")), seed=100_000).length > 0


def test_policy_input_selects_transposes_and_stacks() -> None:
    space = gym.spaces.Dict({"cam_rgb": gym.spaces.Box(0, 255, (4, 5, 3), np.uint8),
                             "proprio": gym.spaces.Box(-1, 1, (2,), np.float32)})
    policy_input = PolicyInput(space, ["cam_rgb", "proprio"], frame_stack=3)
    assert policy_input.space["cam_rgb"].shape == (9, 4, 5) and policy_input.space["proprio"].shape == (6,)
    frames = [{"cam_rgb": np.full((4, 5, 3), i, np.uint8), "proprio": np.full(2, i, np.float32)}
              for i in range(4)]
    first = policy_input(frames[0])
    assert (first["cam_rgb"] == 0).all() and first["proprio"].tolist() == [0] * 6  # stack filled
    for f in frames[1:]:
        out = policy_input(f)
    assert out["cam_rgb"][:, 0, 0].tolist() == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert out["proprio"].tolist() == [1, 1, 2, 2, 3, 3]
    policy_input.reset()
    assert policy_input(frames[3])["proprio"].tolist() == [3] * 6


@pytest.mark.parametrize(("method", "env_id", "env_kwargs", "options", "message"), [
    ("dqn", REACH, {}, {}, "dqn needs discrete actions.*use sac or ppo"),
    ("sac", CART_POLE, {}, {}, "sac needs continuous actions.*use dqn or ppo"),
    ("dqn", CART_POLE, {}, {"obs_keys": ["front_rgb"]}, "obs_keys.*dict obs_mode"),
    ("dqn", CART_POLE, {}, {"policy": "cnn"}, "policy=cnn does not fit the observation"),
    ("dqn", CART_POLE, {"obs_mode": "rgb"}, {"obs_keys": ["top_rgb"]}, r"obs_keys \['top_rgb'\] are not in"),
])
def test_bad_setups_fail_before_training(method, env_id, env_kwargs, options, message) -> None:
    with pytest.raises(ConfigError, match=message):
        fit(method, env_id, env_kwargs, **options)


def test_any_gymnasium_id_trains_and_unknown_ids_say_what_exists() -> None:
    agent = fit("dqn", "CartPole-v1", total_steps=300, eval_every=150)
    assert agent.meta.env_id == "CartPole-v1"
    assert evaluate(envs.make("CartPole-v1"), agent, evaluation_seeds(1), progress=None).episodes == 1
    with pytest.raises(EnvConfigError, match="valid roboloop ids"):
        fit("dqn", "CartPol-v9")


def test_vectorized_training_runs_in_spawned_workers() -> None:
    agent = fit("ppo", CART_POLE, {"horizon": 50}, subprocess=True, select="last")
    assert agent.meta.extra["env_steps"] >= TINY["ppo"]["total_steps"]
    lo, hi = agent.meta.train_seeds[0]
    assert hi - lo >= 2  # both workers reset with their own training seeds

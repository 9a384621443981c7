"""Keypoint dynamics on PushCube: the keypoint state, its reward, fitting, and bad input."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs
from agents import TrainingSource, find_method, load_agent, make_config
from agents.experts import PushCubeExpert
from envs import ConfigError
from envs.tasks.push_cube import PushCubeState, PushCubeTask
from perception import make_perception
from perception.heatmap import ImageNormalization
from perception.keypoints import KeypointModel
from perception.targets import KEYPOINT_NAMES, push_cube_keypoints
from world_models.dynamics import build, fit
from world_models.keypoint_dynamics import (
    STATE_DIM,
    KeypointMPCAgent,
    keypoint_planning_reward,
    keypoint_reward,
    keypoint_state,
)
from world_models.objectives import model_objective
from world_models.planners import PlannerConfig

torch.set_num_threads(1)
PUSH_CUBE = "roboloop/PushCube-v0"


def true_keypoint_state(state: np.ndarray) -> np.ndarray:
    """The keypoint state of the simulator's own keypoints (no perception error)."""
    return keypoint_state(push_cube_keypoints(state), KEYPOINT_NAMES, state[:4])


def random_states(rng: np.random.Generator, n: int) -> np.ndarray:
    """PushCube state vectors of random layouts."""
    task = PushCubeTask()
    rows = [PushCubeState(*rng.uniform(-0.2, 0.2, 6), rng.uniform(-math.pi, math.pi),
                          *rng.uniform(-0.2, 0.2, 2))
            for _ in range(n)]
    return np.stack([task.state_vector(r) for r in rows])


def transitions(episodes: int) -> dict[str, torch.Tensor]:
    """Keypoint-state transitions of noisy expert episodes (true keypoints), MuJoCo state mode."""
    env, expert = gym.make("roboloop/PushCube-v0", horizon=40), PushCubeExpert()
    rng = np.random.default_rng(0)
    rows = {"states": [], "actions": [], "next_states": [], "rewards": []}
    for seed in range(episodes):
        s, _ = env.reset(seed=seed)
        done = False
        while not done:
            a = np.clip(expert.act(s) + rng.normal(0, 0.5, 2), -1, 1).astype(np.float32)
            s2, r, term, trunc, _ = env.step(a)
            for k, v in zip(rows, (true_keypoint_state(s), a, true_keypoint_state(s2), r), strict=True):
                rows[k].append(v)
            s, done = s2, term or trunc
    env.close()
    return {k: torch.as_tensor(np.stack(v), dtype=torch.float32) for k, v in rows.items()}


def test_keypoint_state_recovers_cube_pose_and_ignores_corner_order() -> None:
    state = random_states(np.random.default_rng(0), 1)[0]
    kp = push_cube_keypoints(state)
    s = true_keypoint_state(state)
    assert s.shape == (STATE_DIM,)
    np.testing.assert_allclose(s[0:2], state[4:6], atol=1e-6)  # cube centre = mean of its corners
    np.testing.assert_allclose(s[2:4], -state[6:8], atol=1e-5)  # corners sit at yaw + 45 deg: 4a = 4 yaw + pi
    np.testing.assert_allclose(s[6:8], state[8:10], atol=1e-6)
    shuffled = kp[[2, 0, 3, 1, 4, 5, 6]]
    np.testing.assert_allclose(keypoint_state(shuffled, KEYPOINT_NAMES, state[:4]), s, atol=1e-6)


def test_keypoint_rewards_are_the_task_rewards() -> None:
    rng = np.random.default_rng(1)
    states = random_states(rng, 64)
    actions = rng.uniform(-1, 1, (64, 2))
    kp = np.stack([true_keypoint_state(s) for s in states])
    np.testing.assert_allclose(keypoint_reward(kp, actions), PushCubeTask().batch_reward(states, actions),
                               atol=1e-5)
    t = keypoint_reward(torch.as_tensor(kp), torch.as_tensor(actions))  # torch alike
    assert t.shape == (64,)
    np.testing.assert_allclose(keypoint_planning_reward(kp, actions),
                               PushCubeTask().batch_planning_reward(states, actions), atol=1e-4)


def test_a_short_fit_on_keypoint_states_beats_predicting_no_change() -> None:
    data = transitions(2)
    model = build(STATE_DIM, 2, {"kind": "mlp", "train_steps": 50})
    fit(model, data, torch.Generator().manual_seed(0))
    with torch.no_grad():
        pred, _ = model.predict(data["states"][None], data["actions"][None])
    moved = data["next_states"] - data["states"]
    assert ((pred[0] - data["next_states"]) ** 2).mean() < 0.3 * (moved ** 2).mean()


def test_overfits_a_tiny_batch() -> None:
    data = {k: v[:8] for k, v in transitions(1).items()}
    model = build(STATE_DIM, 2, {"kind": "mlp", "train_steps": 300, "learning_rate": 3e-3})
    out = fit(model, data, torch.Generator().manual_seed(0))
    assert out["model_mse"] < 1e-3, out


def test_a_state_of_another_size_is_refused() -> None:
    planner = PlannerConfig(horizon=3, samples=20, iterations=1, elites=5)
    with pytest.raises(ConfigError, match="size 12"):
        KeypointMPCAgent(build(14, 2, {"kind": "mlp"}), KEYPOINT_NAMES, planner)
    with pytest.raises(ConfigError, match=r"expects \(12,\)"):
        model_objective(build(STATE_DIM, 2, {"kind": "mlp"}), np.zeros(14, np.float32), keypoint_reward)
    with pytest.raises(ConfigError, match="cube_corner"):
        keypoint_state(np.zeros((3, 3)), ["pusher_tip", "goal", "cube_top"], np.zeros(4))


def test_the_keypoint_mpc_agent_plans_from_perception_features() -> None:
    state = random_states(np.random.default_rng(2), 1)[0]
    model = build(STATE_DIM, 2, {"kind": "ensemble", "members": 2})
    planner = PlannerConfig(horizon=3, samples=20, iterations=2, elites=5)
    agent = KeypointMPCAgent(model, KEYPOINT_NAMES, planner)
    agent.reset()
    action = agent.act({"keypoints_world": push_cube_keypoints(state), "proprio": state[:4]})
    assert action.shape == (2,) and action.dtype == np.float32 and np.abs(action).max() <= 1


def keypoint_checkpoint(tmp_path, size: int = 48) -> str:
    """An untrained PushCube keypoint model for the top camera at ``size`` (the loop's perception)."""
    env = gym.make("roboloop/PushCube-v0", obs_mode="rgb+depth", image_size=size, horizon=3)
    env.reset(seed=0)
    p = env.unwrapped.camera_params("top")
    env.close()
    stored = {"intrinsics": p.intrinsics.tolist(), "extrinsics": p.extrinsics.tolist(), "width": size,
              "height": size, "near": p.near, "far": p.far}
    torch.manual_seed(0)
    model = KeypointModel(KEYPOINT_NAMES, ImageNormalization(0.8, 0.05), (8, 8, 8))
    path = tmp_path / "kp.pt"
    torch.save(model.checkpoint({"image_size": size, "camera": "top", "camera_params": stored}), path)
    return str(path)


def test_model_based_rl_online_over_keypoint_perception(tmp_path) -> None:
    """agent.state=keypoints: the loop collects, fits and plans on the 12-d keypoint state from pixels."""
    kwargs = {"obs_mode": "rgb+depth", "image_size": 48, "horizon": 10}
    perception = make_perception({"name": "keypoints", "checkpoint": keypoint_checkpoint(tmp_path)})
    source = TrainingSource(PUSH_CUBE, kwargs, perception=perception, progress=False, run_dir=tmp_path)
    config = make_config("mpc", {"state": "keypoints", "total_steps": 20, "explore_steps": 10,
                                 "fit_every": 10, "eval_every": 20, "eval_episodes": 1,
                                 "planner": {"horizon": 3, "samples": 16, "iterations": 2, "elites": 4},
                                 "world_model": {"kind": "mlp", "hidden": [8], "train_steps": 5}})
    agent = find_method("mpc").fit(config, source)
    assert agent.model.state_dim == STATE_DIM and agent.meta.extra["transitions"] == 20
    assert agent.representation.reward is keypoint_planning_reward
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "last.pt").is_file()
    agent.save(tmp_path / "checkpoint.pt")
    loaded = load_agent(tmp_path / "checkpoint.pt")
    env = envs.make(PUSH_CUBE, **kwargs)
    obs, _ = env.reset(seed=100_000)
    env.close()
    features = perception(obs)
    agent.reset(), loaded.reset()
    np.testing.assert_array_equal(agent.act(features), loaded.act(features))  # names travel in the checkpoint
    with pytest.raises(ConfigError, match="perception=keypoints"):
        find_method("mpc").fit(config, TrainingSource(PUSH_CUBE, kwargs, progress=False))
    with pytest.raises(ConfigError, match="agent.state=keypoints"):  # pixels without the keypoint state
        find_method("mpc").fit(make_config("mpc", {"total_steps": 20, "explore_steps": 10}),
                               TrainingSource(PUSH_CUBE, kwargs, perception=perception, progress=False))
    with pytest.raises(ConfigError, match="valid choices"):
        make_config("mpc", {"state": "pixels"})

"""The shared rollout loop, its callbacks, evaluation statistics and recorders."""

import gymnasium as gym
import numpy as np
import pytest

from agents.experts import PushCubeExpert
from dataset import DatasetWriter, DemoDataset, read_video
from loop import Callback, EvalSummary, evaluate, rollout, wilson_interval
from loop.evaluation import check_disjoint, evaluation_seeds
from loop.recorders import EpisodeRecorder, VideoRecorder
from perception import SelectKeys
from tests.conftest import PUSH_CUBE


class Trace(Callback):
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_reset(self, obs, info, seed) -> None:
        self.events.append(f"reset:{seed}")

    def on_step(self, step) -> None:
        self.events.append(f"step:{step.t}")

    def on_episode_end(self, result) -> None:
        self.events.append(f"end:{result.length}")


class ZeroAgent:
    def __init__(self) -> None:
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def act(self, features) -> np.ndarray:
        return np.zeros(2, np.float32)


def test_rollout_calls_agent_and_callbacks_in_order() -> None:
    env, agent, trace = gym.make(PUSH_CUBE, horizon=3), ZeroAgent(), Trace()
    result = rollout(env, agent, seed=5, callbacks=[trace])
    assert trace.events == ["reset:5", "step:0", "step:1", "step:2", "end:3"]
    assert agent.resets == 1
    assert (result.length, result.success, result.reason) == (3, False, "time_limit")


@pytest.mark.parametrize("backend", ["mujoco", "pybullet"])
def test_expert_succeeds_on_100_seeded_episodes(backend: str) -> None:
    summary = evaluate(gym.make(PUSH_CUBE, backend=backend), PushCubeExpert(), range(100), progress=None)
    assert summary.success_rate >= 0.95, summary.headline()


def test_expert_acts_on_image_mode_dicts_and_perception_selects_keys() -> None:
    env = gym.make(PUSH_CUBE, obs_mode="rgb")
    result = rollout(env, PushCubeExpert(), seed=1, perception=SelectKeys(["state"]))
    assert result.success
    with pytest.raises(KeyError, match="available"):
        SelectKeys(["depth"])({"state": np.zeros(3)})


def test_wilson_interval_matches_known_values() -> None:
    lo, hi = wilson_interval(8, 10)
    assert (lo, hi) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson_interval(0, 50)[0] == pytest.approx(0.0, abs=1e-12)
    assert wilson_interval(50, 50)[1] == pytest.approx(1.0)
    assert wilson_interval(50, 50)[0] == pytest.approx(0.9287, abs=1e-4)
    with pytest.raises(ValueError, match="at least one"):
        wilson_interval(0, 0)


def test_summary_and_seed_hygiene() -> None:
    summary = evaluate(gym.make(PUSH_CUBE), PushCubeExpert(), evaluation_seeds(4), progress=None)
    assert isinstance(summary, EvalSummary) and summary.seeds == [100000, 100001, 100002, 100003]
    assert summary.outcomes == {"success": 4}
    with pytest.raises(ValueError, match="overlap"):
        check_disjoint([1, 2, 3], [3, 4])


def test_recorder_writes_episodes_that_recreate_from_their_seed(tmp_path) -> None:
    env = gym.make(PUSH_CUBE, obs_mode="rgb")
    writer = DatasetWriter(tmp_path / "ds", env_id=PUSH_CUBE, env_kwargs={"obs_mode": "rgb"}, fps=20)
    for seed in (11, 12):
        rollout(env, PushCubeExpert(), seed=seed, callbacks=[EpisodeRecorder(writer)])
    data = DemoDataset(tmp_path / "ds")
    assert data.seeds == [11, 12] and all(m.success for m in data.episodes)
    ep = data.episode(1)
    first, _ = gym.make(data.env_id, **data.env_kwargs).reset(seed=ep.seed)
    np.testing.assert_array_equal(ep.observations["state"][0], first["state"])
    np.testing.assert_array_equal(ep.observations["top_rgb"][0], first["top_rgb"])


def test_video_has_one_frame_per_step_plus_the_reset_frame(tmp_path) -> None:
    env = gym.make(PUSH_CUBE, render_mode="rgb_array", render_size=64, horizon=12)
    videos = VideoRecorder(env, tmp_path, max_videos=1)
    r1 = rollout(env, ZeroAgent(), seed=0, callbacks=[videos])
    rollout(env, ZeroAgent(), seed=1, callbacks=[videos])  # over max_videos: not written
    assert [p.name for p in videos.paths] == ["episode_0.mp4"]
    frames = read_video(videos.paths[0])
    assert frames.shape == (r1.length + 1, 64, 64, 3)
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        VideoRecorder(gym.make(PUSH_CUBE), tmp_path)

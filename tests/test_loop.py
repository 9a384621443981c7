"""The shared rollout loop, its callbacks, evaluation statistics and recorders."""

import gymnasium as gym
import numpy as np
import pytest

from agents.experts import PushCubeExpert
from dataset import DatasetWriter, DemoDataset, read_video
from envs import ConfigError, SuccessFromReturn
from loop import Callback, EvalSummary, MissingSuccessError, Relabelled, evaluate, rollout, wilson_interval
from loop.collect import collect
from loop.evaluation import check_disjoint, evaluation_seeds
from loop.recorders import EpisodeRecorder, VideoRecorder
from loop.seeds import to_ranges
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


def test_expert_acts_on_image_mode_dicts_and_perception_selects_keys() -> None:
    env = gym.make(PUSH_CUBE, obs_mode="rgb", privileged_state=True)
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
        check_disjoint([1, 2, 3], [(3, 5)])
    check_disjoint([1, 2], [(3, 5), (0, 1)])
    assert to_ranges([5, 0, 1, 2, 2, 7, 6]) == [(0, 3), (5, 8)]
    with pytest.raises(ConfigError, match="at least one"):
        evaluate(gym.make(PUSH_CUBE), PushCubeExpert(), [], progress=None)
    with pytest.raises(ConfigError, match="eval.episodes"):
        evaluation_seeds(0)


def test_recorder_writes_episodes_that_recreate_from_their_seed(tmp_path) -> None:
    kwargs = {"obs_mode": "rgb", "privileged_state": True}
    env = gym.make(PUSH_CUBE, **kwargs)
    writer = DatasetWriter(tmp_path / "ds", env_id=PUSH_CUBE, env_kwargs=kwargs, fps=20)
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


class ChunkedCounter:
    """A stateful agent that plans chunks of 4 actions and counts its calls."""

    def __init__(self) -> None:
        self.calls, self.queue = 0, []

    def reset(self) -> None:
        self.queue = []

    def act(self, features) -> np.ndarray:
        self.calls += 1
        if not self.queue:
            self.queue = [np.full(2, 0.1 * i, np.float32) for i in range(4)]
        return self.queue.pop(0)


@pytest.mark.parametrize("as_driver", [False, True])
def test_a_stateful_labeller_is_asked_once_per_step_and_its_labels_are_stored(tmp_path, as_driver) -> None:
    env = gym.make(PUSH_CUBE, horizon=10)
    expert = ChunkedCounter()
    agent = Relabelled(expert, driver=expert if as_driver else None)
    writer = DatasetWriter(tmp_path / "ds", env_id=PUSH_CUBE, env_kwargs={"horizon": 10}, fps=20)
    results = collect(env, agent, [0, 1], writer, progress=None)
    assert expert.calls == sum(r.length for r in results) == agent.labels == 20
    actions = DemoDataset(tmp_path / "ds").episode(0).actions
    np.testing.assert_allclose(actions[:5, 0], [0.0, 0.1, 0.2, 0.3, 0.0], atol=1e-6)


def test_dart_executes_noisy_labels_and_stores_the_clean_ones(tmp_path) -> None:
    env = gym.make(PUSH_CUBE, horizon=6)
    executed = []

    class Executed(Callback):
        def on_step(self, step) -> None:
            executed.append(step.action)

    agent = Relabelled(ChunkedCounter(), noise_std=0.3, seed=0)
    writer = DatasetWriter(tmp_path / "ds", env_id=PUSH_CUBE, env_kwargs={}, fps=20)
    rollout(env, agent, seed=0, callbacks=[EpisodeRecorder(writer, labels=agent), Executed()])
    stored = DemoDataset(tmp_path / "ds").episode(0).actions
    np.testing.assert_allclose(stored[:4, 0], [0.0, 0.1, 0.2, 0.3], atol=1e-6)
    assert not np.allclose(np.stack(executed), stored)
    with pytest.raises(ConfigError, match="noise_std"):
        Relabelled(ChunkedCounter(), noise_std=-1)
    with pytest.raises(ConfigError, match="beta"):
        Relabelled(ChunkedCounter(), beta=1.5)


def test_dagger_mixture_asks_the_learner_every_step_and_executes_labels_with_probability_beta() -> None:
    seen: list = []

    class Learner(ChunkedCounter):
        def act(self, features) -> np.ndarray:
            seen.append(sorted(features))
            return super().act(features)

    learner = Learner()
    agent = Relabelled(PushCubeExpert(), driver=learner, perception=SelectKeys(["proprio"]), beta=0.5)
    pairs = []

    class Pairs(Callback):
        def on_step(self, step) -> None:
            pairs.append(np.array_equal(step.action, agent.label))

    env = gym.make(PUSH_CUBE, obs_mode="proprio", privileged_state=True, horizon=60)
    result = rollout(env, agent, seed=3,
                     callbacks=[Pairs()])
    assert learner.calls == result.length == agent.labels == 60
    assert seen[0] == ["proprio"]  # the learner sees its perception's features, the expert the state
    assert 0.3 < np.mean(pairs) < 0.7


def test_chunked_agents_are_called_once_per_step() -> None:
    agent = ChunkedCounter()
    result = rollout(gym.make(PUSH_CUBE, horizon=9), agent, seed=0)
    assert agent.calls == result.length == 9


def test_envs_without_is_success_get_a_clear_error_and_a_fix() -> None:
    class Plain(ZeroAgent):
        def act(self, features) -> int:
            return 0

    with pytest.raises(MissingSuccessError, match="SuccessFromReturn"):
        rollout(gym.make("CartPole-v1"), Plain(), seed=0)
    result = rollout(SuccessFromReturn(gym.make("CartPole-v1"), threshold=5), Plain(), seed=0)
    assert result.success and result.episode_return >= 5


def test_pooled_success_adds_episodes_over_policies_before_the_interval() -> None:
    from loop.evaluation import pooled_success, wilson_interval

    pooled = pooled_success([{"successes": 49, "episodes": 50}, {"successes": 47, "episodes": 50}])
    assert pooled == {"success_rate": 0.96, "success_ci95": wilson_interval(96, 100), "episodes": 100}

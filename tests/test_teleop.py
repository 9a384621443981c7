"""Teleoperation and supervisors: programmatic and keyboard teleop, the expert gate, Intervened."""

import io

import gymnasium as gym
import numpy as np
import pytest

from agents.experts import make_expert
from agents.teleop import ExpertGate, KeyboardTeleop, Teleop
from dataset import DatasetWriter, DemoDataset
from envs import ConfigError
from loop.collect import collect
from loop.intervention import Intervened
from tests.conftest import PUSH_CUBE


class Constant:
    """A learner that always proposes the same action."""

    def __init__(self, action) -> None:
        self.action = np.asarray(action, dtype=np.float32)
        self.calls = 0

    def reset(self) -> None:
        pass

    def act(self, obs):
        self.calls += 1
        return self.action


class Scheduled:
    """A supervisor that takes over on the steps listed (counted over the whole run)."""

    def __init__(self, steps: set[int]) -> None:
        self.steps, self.t = steps, 0

    def reset(self) -> None:
        pass

    def intervene(self, obs, proposed):
        self.t += 1
        return np.full_like(proposed, 0.5) if self.t - 1 in self.steps else None


def test_programmatic_teleop_drives_and_takes_over_only_while_engaged() -> None:
    teleop = Teleop(2)
    assert teleop.intervene(None, np.zeros(2)) is None
    teleop.engage([0.3, 2.0])
    np.testing.assert_allclose(teleop.intervene(None, np.zeros(2)), [0.3, 1.0])  # clipped to [-1, 1]
    teleop.release()
    assert teleop.intervene(None, np.zeros(2)) is None
    np.testing.assert_allclose(teleop.act(None), [0.3, 1.0])  # as a driver it always acts
    with pytest.raises(ConfigError, match="2 finite numbers"):
        teleop.command([0.1, 0.2, 0.3])


def test_keyboard_keys_move_axes_and_space_toggles_the_take_over() -> None:
    keys = io.StringIO()
    teleop = KeyboardTeleop(3, step=0.25, stream=keys)
    keys.write("ww d")
    keys.seek(0)
    np.testing.assert_allclose(teleop.intervene(None, np.zeros(3)), [0.5, -0.25, 0.0])
    keys.seek(0)
    keys.truncate()
    keys.write(" ")
    keys.seek(0)
    assert teleop.intervene(None, np.zeros(3)) is None and not teleop.engaged
    with pytest.raises(ConfigError, match="interactive terminal"):
        KeyboardTeleop(3)  # pytest's stdin is not a terminal


def test_the_gate_takes_over_beyond_the_threshold_and_hands_back_below_release() -> None:
    class Expert:
        def reset(self) -> None:
            pass

        def act(self, obs):
            return np.zeros(2, dtype=np.float32)

    gate = ExpertGate(Expert(), threshold=0.5, release=0.2)
    assert gate.intervene(None, np.array([0.3, 0.0])) is None  # within the threshold
    assert gate.intervene(None, np.array([0.6, 0.0])) is not None  # strays: take over
    assert gate.intervene(None, np.array([0.3, 0.0])) is not None  # hysteresis: still engaged
    assert gate.intervene(None, np.array([0.1, 0.0])) is None  # close again: hand back
    with pytest.raises(ConfigError, match="release"):
        ExpertGate(Expert(), threshold=0.1, release=0.2)


def test_intervened_episodes_are_stored_as_their_take_over_segments(tmp_path) -> None:
    env = gym.make(PUSH_CUBE, horizon=20)
    writer = DatasetWriter(tmp_path / "d", env_id=PUSH_CUBE, env_kwargs={"horizon": 20}, fps=20)
    learner = Constant([0.0, 0.0])
    agent = Intervened(learner, Scheduled({2, 3, 4, 10, 19}), budget=4)
    collect(env, agent, [0], writer, progress=None)
    data = DemoDataset(tmp_path / "d")
    assert agent.labels == 4 and agent.interventions == 2 and learner.calls == 20
    assert [m.length for m in data.episodes] == [3, 1]  # steps 2-4, then 10; 19 is past the budget
    assert [m.extra["segment"]["start_step"] for m in data.episodes] == [2, 10]
    assert all(m.truncated and not m.terminated for m in data.episodes)
    np.testing.assert_array_equal(data.episode(0).actions, np.full((3, 2), 0.5, np.float32))


def test_the_planner_expert_reaches_by_simulating_and_leaves_the_env_where_it_was() -> None:
    env = gym.make("roboloop/Reach-v0")
    planner = make_expert("roboloop/Reach-v0", "planner", env, horizon=4, samples=16)
    obs, _ = env.reset(seed=3)
    planner.act(obs)  # hundreds of simulated steps, then the snapshot is restored
    after = env.unwrapped.get_state()
    assert after.t == 0
    np.testing.assert_array_equal(env.unwrapped.set_state(after), obs)
    from loop import evaluate

    assert evaluate(env, planner, [100_000, 100_001], progress=None).success_rate == 1.0
    with pytest.raises(ConfigError, match="valid choices"):
        make_expert("roboloop/Reach-v0", "oracle", env)


def test_keyboard_reads_a_real_terminal_without_blocking_and_restores_its_mode() -> None:
    import os
    import pty
    import termios

    main_fd, terminal_fd = pty.openpty()
    with os.fdopen(terminal_fd, "r") as terminal:
        before = termios.tcgetattr(terminal_fd)
        teleop = KeyboardTeleop(4, stream=terminal)
        assert termios.tcgetattr(terminal_fd) != before  # cbreak: keys arrive one by one, unechoed
        assert teleop.intervene(None, np.zeros(4)) is None  # nothing typed: returns at once
        os.write(main_fd, b" we")
        np.testing.assert_allclose(teleop.intervene(None, np.zeros(4)), [0.25, 0.0, 0.0, 0.25])
        teleop.close()
        assert termios.tcgetattr(terminal_fd) == before
    os.close(main_fd)

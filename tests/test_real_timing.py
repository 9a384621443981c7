"""The fixed-rate loop measures period, jitter and missed deadlines; a slow policy is reported."""

import logging
import time

import numpy as np
import pytest

from envs.errors import ConfigError
from envs.real import DeadlineMissedError, MockRobot, RateLoop, RealRobotConfig, RealRobotEnv, SafetyConfig


def test_rate_loop_holds_its_period_and_measures_jitter() -> None:
    loop = RateLoop(50.0)
    loop.start()
    for _ in range(10):
        loop.begin_step()
        loop.tick()
    summary = loop.stats.summary()
    assert summary["period_mean_s"] == pytest.approx(0.02, abs=0.004)
    assert summary["missed_deadlines"] == 0 and summary["steps"] == 10
    assert 0 <= summary["jitter_p50_s"] <= summary["jitter_max_s"]


def test_overruns_are_missed_deadlines_and_the_schedule_re_phases() -> None:
    loop = RateLoop(20.0)
    loop.start()
    loop.begin_step()
    time.sleep(0.12)  # more than two periods of work
    loop.tick()
    assert loop.stats.missed_deadlines == 1
    t0 = time.monotonic()
    loop.begin_step()
    loop.tick()  # no burst of catch-up steps: the next tick waits a whole period
    assert 0.04 <= time.monotonic() - t0 <= 0.08
    assert loop.stats.missed_deadlines == 1


def test_rate_loop_refuses_bad_rates() -> None:
    for hz in (0, -1, float("nan"), 1e6):
        with pytest.raises(ConfigError, match="control rate"):
            RateLoop(hz)


def test_a_policy_slower_than_the_control_period_is_detected_and_reported(caplog) -> None:
    env = RealRobotEnv(MockRobot(2, control_hz=20.0), RealRobotConfig(horizon=6),
                       safety=SafetyConfig(watchdog_timeout_s=None))
    env.reset(seed=0)
    infos = []
    with caplog.at_level(logging.WARNING, logger="envs.real.env"):
        for t in range(6):
            if t in (2, 4):
                time.sleep(0.08)  # a policy that takes 80 ms of a 50 ms period
            infos.append(env.step(np.zeros(2, np.float32))[-1]["timing"])
    assert [i["late"] for i in infos] == [False, False, True, False, True, False]
    assert infos[-1]["missed_deadlines"] == 2 and infos[2]["policy_s"] > 0.05
    assert env.rate.stats.slow_policy_steps == 2
    messages = [r.message for r in caplog.records]
    assert any("after its deadline" in m and "50.0 ms period" in m and "policy slower" in m for m in messages)
    env.close()


def test_a_late_step_can_raise_instead() -> None:
    env = RealRobotEnv(MockRobot(2, control_hz=20.0), RealRobotConfig(horizon=3, on_overrun="raise"),
                       safety=SafetyConfig(watchdog_timeout_s=None))
    env.reset(seed=0)
    time.sleep(0.08)
    with pytest.raises(DeadlineMissedError, match="lower control_hz"):
        env.step(np.zeros(2, np.float32))
    assert env.robot.robot.commands == []  # the late command was not sent
    env.close()


def test_realtime_false_only_measures() -> None:
    env = RealRobotEnv(MockRobot(2, control_hz=5.0), RealRobotConfig(horizon=5, realtime=False))
    env.reset(seed=0)
    t0 = time.monotonic()
    for _ in range(5):
        *_, info = env.step(np.zeros(2, np.float32))
    assert time.monotonic() - t0 < 0.5 and info["timing"]["missed_deadlines"] == 0
    env.close()

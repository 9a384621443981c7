"""Safety, on by default: bounds, change per step, velocity, joint and workspace limits, the watchdog,
the latching e-stop, torque-off on disconnect and on driver errors; every intervention counted."""

import time

import numpy as np
import pytest

from envs.errors import ConfigError, InvalidActionError
from envs.real import (
    EmergencyStopError,
    MockRobot,
    PositionLimit,
    RealRobotConfig,
    RealRobotEnv,
    RobotFaultError,
    SafeRobot,
    SafetyConfig,
)

WORKSPACE = PositionLimit("workspace", "proprio", (0, 1), (-0.05, -0.05), (0.05, 0.05), per_action=0.01)


def safe(config: SafetyConfig | None = None, **mock) -> SafeRobot:
    robot = SafeRobot(MockRobot(**{"dof": 3, **mock}), config or SafetyConfig(watchdog_timeout_s=None))
    robot.connect()
    robot.reset(0)
    return robot


def sent(robot: SafeRobot) -> list[list[float]]:
    return [np.round(c.action.astype(float), 6).tolist() for c in robot.robot.commands]


def test_safety_is_on_by_default() -> None:
    config = SafetyConfig()
    assert config.max_step_change == 0.5 and config.watchdog_timeout_s == 0.08
    assert config.on_timeout == "hold" and config.torque_off_on_disconnect


def test_out_of_bounds_commands_are_clamped_and_counted() -> None:
    robot = safe(SafetyConfig(max_step_change=None, watchdog_timeout_s=None, action_low=-0.5,
                              action_high=0.5))
    out = robot.send_action(np.array([0.9, -3.0, 0.2]))
    assert out.tolist() == pytest.approx([0.5, -0.5, 0.2])
    assert robot.counts["action_limit"] == 1 and robot.status()["safety"]["interventions"] == ["action_limit"]
    robot.close()


def test_the_change_per_step_is_limited() -> None:
    robot = safe(SafetyConfig(max_step_change=0.1, watchdog_timeout_s=None))  # 0.2 of the [-1, 1] range
    for _ in range(3):
        robot.send_action(np.array([1.0, -1.0, 0.1]))
    assert sent(robot) == [[0.2, -0.2, 0.1], [0.4, -0.4, 0.1], [0.6, -0.6, 0.1]]
    assert robot.counts["step_change"] == 3
    robot.close()


def test_velocity_limits_cap_the_commanded_speed() -> None:
    limit = PositionLimit("tcp", "proprio", (0, 1, 2), (-1, -1, -1), (1, 1, 1), per_action=0.01,
                          max_speed=0.1)
    robot = safe(SafetyConfig(max_step_change=None, watchdog_timeout_s=None, limits=(limit,)))
    out = robot.send_action(np.array([1.0, 1.0, 0.0]))  # 0.01 m per 50 ms per axis: 0.28 m/s
    speed = np.linalg.norm(0.01 * out) * robot.control_hz
    assert speed == pytest.approx(0.1) and robot.counts["velocity:tcp"] == 1
    robot.close()


def test_the_workspace_holds_whatever_the_policy_commands() -> None:
    robot = safe(SafetyConfig(max_step_change=None, watchdog_timeout_s=None, limits=(WORKSPACE,)))
    rng = np.random.default_rng(0)
    for _ in range(300):
        robot.get_observation()  # the env reads each step; the limit acts on the latest reading
        robot.send_action(rng.uniform(-1, 1, 3) + np.array([0.6, -0.6, 0.0]))  # drifting out
        assert np.all(np.abs(robot.robot.position[:2]) <= 0.05 + 1e-6)  # float32 commands
    assert robot.counts["workspace"] > 50
    robot.close()


def test_joint_limits_clamp_absolute_targets() -> None:
    joints = PositionLimit("joints", "proprio", (0, 1), (-0.5, 0.0), (0.5, 1.0), command="absolute")
    robot = safe(SafetyConfig(max_step_change=None, watchdog_timeout_s=None, limits=(joints,),
                              action_low=-2, action_high=2))
    assert robot.send_action(np.array([1.5, -1.0, 0.3])).tolist() == pytest.approx([0.5, 0.0, 0.3])
    assert robot.counts["joints"] == 1
    robot.close()


def test_nan_commands_are_refused_and_nothing_is_sent() -> None:
    robot = safe()
    with pytest.raises(InvalidActionError, match="NaN"):
        robot.send_action(np.array([np.nan, 0.0, 0.0]))
    assert robot.robot.commands == [] and robot.counts["invalid"] == 1
    robot.close()


def test_the_emergency_stop_latches_until_reset_explicitly() -> None:
    robot = safe()
    robot.emergency_stop("test")
    assert robot.send_action(np.array([1.0, 1.0, 1.0])).tolist() == [0, 0, 0]  # held
    with pytest.raises(EmergencyStopError, match="reset_emergency_stop"):
        robot.reset(0)
    robot.disconnect()  # a reconnect does not clear it
    robot.connect()
    assert robot.send_action(np.array([1.0, 0, 0])).tolist() == [0, 0, 0]
    assert robot.status()["safety"]["estop"] == "test" and robot.counts["estop"] == 2
    robot.reset_emergency_stop()
    robot.reset(0)
    assert robot.send_action(np.array([0.5, 0, 0])).tolist() == [0.5, 0, 0]
    robot.close()


def test_disconnect_torques_off_and_a_driver_error_torques_off_and_latches() -> None:
    robot = safe()
    robot.disconnect()
    assert robot.robot.torque_offs == 1
    robot = safe(fail_after=2)
    robot.send_action(np.zeros(3))
    with pytest.raises(RobotFaultError, match="torqued off and e-stopped"):
        robot.send_action(np.zeros(3))
    assert robot.robot.torque_offs == 1 and robot.estop_reason.startswith("driver fault")
    assert robot.counts["fault"] == 1
    robot.close()


def test_the_watchdog_holds_within_100_ms_of_the_last_command() -> None:
    robot = safe(SafetyConfig())
    for _ in range(5):
        robot.send_action(np.array([0.5, 0.5, 0.5]))
        time.sleep(0.03)  # a 33 Hz client: well inside the 80 ms deadline
    time.sleep(0.3)
    commands = robot.robot.commands
    assert [c.action.tolist() for c in commands[-2:]] == [[0.5, 0.5, 0.5], [0, 0, 0]]
    assert commands[-1].t - commands[-2].t <= 0.1
    assert robot.counts["watchdog"] == 1 and robot.history[-1].source == "watchdog"  # once per silence
    robot.close()


def test_the_watchdog_can_torque_off_instead() -> None:
    robot = safe(SafetyConfig(on_timeout="torque_off"))
    robot.send_action(np.array([0.5, 0, 0]))
    time.sleep(0.25)
    assert robot.robot.torque_offs == 1 and robot.counts["watchdog"] == 1
    robot.close()


def test_interventions_reach_info_in_the_env() -> None:
    env = RealRobotEnv(MockRobot(3), RealRobotConfig(horizon=4, realtime=False),
                       safety=SafetyConfig(max_step_change=0.1, watchdog_timeout_s=None))
    env.reset(seed=0)
    *_, info = env.step(np.ones(3, np.float32))
    assert info["safety"]["interventions"] == ["step_change"]
    assert info["sent_action"].tolist() == pytest.approx([0.2, 0.2, 0.2])
    assert info["safety"]["counts"]["step_change"] == 1
    env.close()


@pytest.mark.parametrize("kwargs, match", [
    ({"max_step_change": 2.0}, r"\(0, 1\]"), ({"watchdog_timeout_s": 0}, "watchdog_timeout_s"),
    ({"on_timeout": "coast"}, "valid choices"), ({"limits": ({"index": []},)}, "index must list"),
    ({"limits": ({"index": [0], "low": [1], "high": [0]},)}, "low <= high"),
])
def test_safety_config_errors_say_what_to_do(kwargs, match) -> None:
    with pytest.raises(ConfigError, match=match):
        SafetyConfig(**kwargs)
    with pytest.raises(ConfigError, match="valid options"):
        SafetyConfig.from_dict({"max_speed": 1})

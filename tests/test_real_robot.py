"""The robot seam: features, the mock robot and camera, RealRobotEnv's contract, the docs' worked example."""

import re
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.passive_env_checker import (
    check_action_space,
    check_observation_space,
    env_reset_passive_checker,
    env_step_passive_checker,
)

import envs
from envs.errors import ConfigError, EnvConfigError, InvalidActionError, ResetNeededError
from envs.real import (
    Feature,
    MockCamera,
    MockRobot,
    RealRobotConfig,
    RealRobotEnv,
    RobotError,
    RobotNotConnectedError,
    SafeRobot,
    SimRobot,
)
from envs.registry import REAL_ROBOT_ID
from tests.conftest import ROOT

REACH = "roboloop/Reach-v0"
SIM_KW = {"obs_mode": "proprio", "privileged_state": True}


def test_features_round_trip_through_spaces_and_json() -> None:
    for space in [gym.spaces.Box(-1, 1, (3,), np.float32), gym.spaces.Box(0, 255, (8, 8, 3), np.uint8),
                  gym.spaces.Box(-np.inf, np.inf, (11,), np.float32),
                  gym.spaces.Box(np.array([-1.0, 0.0]), np.array([1.0, 2.0]), (2,), np.float64)]:
        feature = Feature.from_space(space)
        assert feature.to_space() == space
        assert Feature.from_json(feature.to_json()) == feature


@pytest.mark.parametrize("kwargs, match", [
    ({"shape": (-1,)}, "non-negative ints"), ({"shape": (3,), "dtype": "object"}, "valid choices"),
    ({"shape": (2,), "names": ("a",)}, "name each entry"),
    ({"shape": (2,), "low": 1, "high": 0}, "low <= high"),
    ({"shape": (2,), "low": [0, 0, 0]}, "do not fit shape")])
def test_bad_features_say_what_was_expected(kwargs, match) -> None:
    with pytest.raises(ConfigError, match=match):
        Feature(**kwargs)


def test_mock_robot_records_every_command_and_is_a_context_manager() -> None:
    camera = MockCamera(size=8)
    with MockRobot(2, camera=camera) as robot:
        sent = robot.send_action(np.array([1.0, -0.5]))
        obs = robot.get_observation()
        assert sorted(obs) == ["proprio", "wrist_rgb"] and obs["wrist_rgb"].shape == (8, 8, 3)
        np.testing.assert_allclose(obs["proprio"], [0.01, -0.005])
        assert [c.action.tolist() for c in robot.commands] == [sent.tolist()]
    assert not robot.is_connected and not camera.is_connected
    with pytest.raises(RobotNotConnectedError, match="connect"):
        robot.get_observation()


def test_camera_frames_carry_timestamps_and_intrinsics() -> None:
    with MockCamera(size=16) as camera:
        a, b = camera.read(), camera.read()
        assert b.timestamp >= a.timestamp and (a.index, b.index) == (1, 2)
        assert camera.intrinsics.shape == (3, 3) and camera.intrinsics[2, 2] == 1


def test_real_robot_env_passes_gymnasium_checks_and_reports_safety_and_timing() -> None:
    env = RealRobotEnv(MockRobot(3, camera=MockCamera(size=8)), RealRobotConfig(horizon=5, realtime=False))
    assert isinstance(env.robot, SafeRobot)  # safety wraps a bare driver by default
    # Gymnasium's passive checks; check_env's determinism check cannot hold: info carries measured timing.
    check_observation_space(env.observation_space)
    check_action_space(env.action_space)
    env_reset_passive_checker(env, seed=0)
    env_step_passive_checker(env, env.action_space.sample())
    obs, info = env.reset(seed=0)
    assert info["is_success"] is False and set(obs) == {"proprio", "wrist_rgb"}
    obs, reward, terminated, truncated, info = env.step(np.array([2.0, 0.0, 0.0]))
    assert {"is_success", "sent_action", "safety", "timing"} <= set(info)
    assert info["sent_action"].tolist() == [1.0, 0.0, 0.0]  # the env clips to the action space
    assert {"period_s", "policy_s", "late", "missed_deadlines"} <= set(info["timing"])
    env.close()
    assert env.robot.robot.torque_offs == 1  # torque off on close


def test_bad_actions_are_refused_before_anything_is_sent() -> None:
    robot = MockRobot(3)
    env = RealRobotEnv(robot, RealRobotConfig(horizon=3, realtime=False))
    with pytest.raises(ResetNeededError):
        env.step(np.zeros(3))
    env.reset(seed=0)
    for bad in [np.array([np.nan, 0, 0]), np.zeros(2), np.array(["a", "b", "c"]), np.array([np.inf, 0, 0])]:
        with pytest.raises(InvalidActionError):
            env.step(bad)
    assert robot.commands == []
    env.close()


def test_a_driver_breaking_its_own_features_gets_a_clear_error() -> None:
    class Liar(MockRobot):
        def get_observation(self):
            return {"proprio": np.zeros(5, np.float64)}

    env = RealRobotEnv(Liar(3), RealRobotConfig(realtime=False))
    with pytest.raises(RobotError, match="declares float32"):
        env.reset(seed=0)
    env.close()


def test_sim_robot_env_has_the_simulated_tasks_spaces_and_seeds_map_through() -> None:
    env = RealRobotEnv(SimRobot(REACH, SIM_KW), RealRobotConfig(horizon=100, realtime=False, task_id=REACH,
                                                               task_kwargs=SIM_KW))
    sim = gym.make(REACH, **SIM_KW)
    assert env.observation_space == sim.observation_space and env.action_space == sim.action_space
    for seed in (3, 100000):
        real_obs, _ = env.reset(seed=seed)
        sim_obs, _ = sim.reset(seed=seed)
        for key in sim_obs:
            np.testing.assert_array_equal(real_obs[key], sim_obs[key])
    action = np.array([0.5, -0.2, 0.1], np.float32)
    real_step, sim_step = env.step(action), sim.step(action)
    np.testing.assert_array_equal(real_step[0]["state"], sim_step[0]["state"])
    assert real_step[1] == pytest.approx(sim_step[1])
    env.close()
    sim.close()


def test_a_robot_that_does_not_match_its_task_is_refused() -> None:
    with pytest.raises(EnvConfigError, match="does not match"):
        RealRobotEnv(SimRobot(REACH, SIM_KW),
                     RealRobotConfig(task_id=REACH, task_kwargs={"obs_mode": "proprio"}))
    with pytest.raises(EnvConfigError, match="Discrete"):
        SimRobot("roboloop/CartPole-v0").connect()


def test_real_robot_id_is_registered_lazily_and_kept_out_of_the_sim_task_list() -> None:
    assert REAL_ROBOT_ID in gym.registry and REAL_ROBOT_ID not in envs.registered_ids()
    code = "import envs, envs.real, sys; assert 'zmq' not in sys.modules and 'mujoco' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_real_robot_config_is_validated() -> None:
    with pytest.raises(EnvConfigError, match="on_overrun"):
        RealRobotConfig(on_overrun="ignore")
    with pytest.raises(EnvConfigError, match="control_hz"):
        RealRobotConfig(control_hz=0)


def docs_example() -> str:
    text = (ROOT / "docs" / "plug_in_your_robot.md").read_text()
    (code,) = re.findall(r"```python\n(# mock_arm\.py.*?)```", text, re.S)
    return code


def test_the_docs_mock_arm_example_is_under_100_lines_and_runs() -> None:
    code = docs_example()
    assert len(code.splitlines()) < 100
    namespace: dict = {"__name__": "mock_arm"}
    exec(compile(code, "docs/plug_in_your_robot.md", "exec"), namespace)  # noqa: S102
    arm = namespace["MockArm"]()
    env = RealRobotEnv(arm, RealRobotConfig(horizon=20, realtime=False), safety=namespace["SAFETY"])
    obs, _ = env.reset(seed=0)
    for _ in range(20):
        obs, *_, info = env.step(np.ones(env.action_space.shape, np.float32))
    joints = obs["proprio"][:3]
    assert (joints <= np.asarray(namespace["SAFETY"].limits[0].high) + 1e-6).all()  # the joint limit held
    assert info["safety"]["counts"].get("joints", 0) > 0
    env.close()
    assert arm.torque_enabled is False  # torque off on close


def test_robot_errors_are_also_the_builtins_callers_catch() -> None:
    from envs.errors import RoboloopError
    from envs.real.errors import MessageError, RobotConnectionError

    for cls, builtin in [(RobotError, RuntimeError), (RobotNotConnectedError, RuntimeError),
                         (RobotConnectionError, ConnectionError), (MessageError, ValueError)]:
        assert issubclass(cls, RoboloopError) and issubclass(cls, builtin), cls

"""The whole real-robot path against the simulator-backed robot server on loopback: sim-trained policies
run unchanged, teleoperated demonstrations land in the dataset, and a killed client leaves the robot
holding and the dataset whole."""

import io
import os
import signal
import socket
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np
import pytest

from agents import TrainingSource
from agents.bc import BCAgent, BCConfig
from agents.experts import make_expert
from agents.teleop import KeyboardTeleop, Teleop
from dataset import DatasetWriter, DemoDataset
from envs.real import Faults, RealRobotConfig, RealRobotEnv, SafetyConfig, SimRobot
from envs.registry import REAL_ROBOT_ID
from loop import evaluate
from loop.collect import collect
from loop.evaluation import evaluation_seeds
from tests.conftest import PUSH_CUBE, ROOT
from tests.real_helpers import TOKEN, remote, serve

REACH = "roboloop/Reach-v0"
SIM_KW = {"obs_mode": "proprio", "privileged_state": True}
FAULTS = Faults(latency_s=0.002, jitter_s=0.002, seed=0)


def sim_server(task: str, kwargs: dict, faults: Faults | None = FAULTS, **safety):
    sim = SimRobot(task, kwargs)
    sim.connect()
    return serve(sim, safety=SafetyConfig(limits=sim.default_limits(), **safety), faults=faults)


def robot_env(server, task: str, kwargs: dict, horizon: int, realtime: bool = False) -> RealRobotEnv:
    return RealRobotEnv(remote(server), RealRobotConfig(horizon=horizon, realtime=realtime, task_id=task,
                                                        task_kwargs=kwargs))


@pytest.mark.parametrize("task, horizon, episodes", [(REACH, 100, 10), (PUSH_CUBE, 150, 6)])
def test_the_expert_succeeds_as_often_through_the_robot_server(task, horizon, episodes) -> None:
    seeds = evaluation_seeds(episodes)
    direct = evaluate(gym.make(task, **SIM_KW), make_expert(task), seeds, progress=None)
    with sim_server(task, SIM_KW) as server:
        env = robot_env(server, task, SIM_KW, horizon)
        real = evaluate(env, make_expert(task), seeds, progress=None)
        env.close()
    assert abs(real.success_rate - direct.success_rate) <= 0.05
    assert direct.success_rate >= 0.8


def test_a_bc_policy_trained_in_simulation_runs_unchanged_through_the_robot_server(demo_dataset) -> None:
    data = DemoDataset(demo_dataset)  # state-mode PushCube demos: the policy reads {"state"}
    agent = BCAgent.fit(BCConfig(hidden_sizes=[64, 64], steps=300, seed=0),
                        TrainingSource.from_dataset(data, progress=False))
    seeds, kwargs = evaluation_seeds(4), dict(data.env_kwargs)
    direct = evaluate(gym.make(PUSH_CUBE, **kwargs), agent, seeds, progress=None)
    with sim_server(PUSH_CUBE, kwargs) as server:
        env = robot_env(server, PUSH_CUBE, kwargs, 150)
        real = evaluate(env, agent, seeds, progress=None)
        env.close()
    # Lock-step simulation and no lost messages: the very same episodes.
    assert [r["episode_return"] for r in real.per_episode] == pytest.approx(
        [r["episode_return"] for r in direct.per_episode], abs=1e-4)
    assert real.outcomes == direct.outcomes


class Program(Teleop):
    """A program teleoperating: each step it sets the next command of its list (as a device's poll would)."""

    def __init__(self, commands) -> None:
        super().__init__(3)
        self.queue = [np.asarray(c, np.float32) for c in commands]

    def poll(self) -> None:
        if self.queue:
            self.command(self.queue.pop(0))


def test_teleoperated_demonstrations_are_recorded_in_the_dataset_format(tmp_path, monkeypatch) -> None:
    commands = [[0.4, 0.0, 0.0]] * 5 + [[0.0, -0.4, 0.2]] * 5
    monkeypatch.setenv("ROBOLOOP_ROBOT_TOKEN", TOKEN)
    with sim_server(REACH, SIM_KW) as server:
        env = robot_env(server, REACH, SIM_KW, horizon=5)
        kwargs = {"address": server.endpoint, "task_id": REACH, "task_kwargs": SIM_KW, "horizon": 5}
        writer = DatasetWriter(tmp_path / "demos", env_id=REAL_ROBOT_ID, env_kwargs=kwargs, fps=20)
        results = collect(env, Program(commands), [0, 1], writer, extra={"teleop": "program"}, progress=None)
        keyboard = KeyboardTeleop(3, stream=io.StringIO("ww"))  # +x twice: a 0.5 command
        collect(env, keyboard, [2], writer, progress=None)
        env.close()
        data = DemoDataset(tmp_path / "demos")
        # Training and evaluation rebuild the robot env from the dataset (roboloop/RealRobot-v0, the token
        # from the environment), as scripts/train.py and scripts/evaluate.py do.
        source = TrainingSource.from_dataset(data, progress=False)
        agent = BCAgent.fit(BCConfig(obs_keys=["proprio"], hidden_sizes=[16], steps=20, success_only=False),
                            source)
        rebuilt = source.make_env()
        assert evaluate(rebuilt, agent, evaluation_seeds(1), progress=None).episodes == 1
        rebuilt.close()
    assert data.env_id == REAL_ROBOT_ID and data.seeds == [0, 1, 2] and len(results) == 2
    assert data.observation_keys == ["proprio", "state"]
    np.testing.assert_allclose(data.episode(0).actions, commands[:5])
    np.testing.assert_allclose(data.episode(1).actions, commands[5:])
    np.testing.assert_allclose(data.episode(2).actions, [[0.5, 0, 0]] * 5)
    ee = data.episode(0).observations["proprio"][:, 8]
    assert ee[-1] > ee[0]  # the arm moved along +x as commanded


CLIENT = """
import sys, numpy as np
from dataset import DatasetWriter
from envs.real import RealRobotConfig, RealRobotEnv
from envs.real.client import ClientConfig, RemoteRobot
from loop.collect import collect

class Wander:
    def reset(self): self.t = 0
    def act(self, obs):
        self.t += 1
        return np.array([0.3 * np.sin(self.t / 3), 0.3 * np.cos(self.t / 3), 0.0], np.float32)

address, token, root = sys.argv[1:]
env = RealRobotEnv(RemoteRobot(ClientConfig(address=address, token=token)), RealRobotConfig(horizon=20))
writer = DatasetWriter(root, env_id="roboloop/RealRobot-v0", env_kwargs={"address": address}, fps=20)
collect(env, Wander(), range(1000), writer, progress=None)
"""


def test_killing_the_client_mid_episode_leaves_the_robot_holding_and_the_dataset_whole(tmp_path) -> None:
    root = tmp_path / "dataset"
    with sim_server(REACH, SIM_KW, faults=None) as server:
        sim = server.robot.robot
        client = subprocess.Popen([sys.executable, "-c", CLIENT, server.endpoint, TOKEN, str(root)],
                                  cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            deadline = time.monotonic() + 60
            episodes = root / "meta" / "episodes.jsonl"
            # wait for one committed episode and the middle of the next
            while not (episodes.is_file() and episodes.read_text().count("\n") >= 1 and
                       5 <= sim.status()["sim_steps"] < 15):
                assert client.poll() is None and time.monotonic() < deadline, "the client did not get going"
                time.sleep(0.005)
            client.send_signal(signal.SIGKILL)
            client.wait(10)
            killed_at = time.monotonic()
            time.sleep(0.3)
        finally:
            if client.poll() is None:
                client.kill()
        history = list(server.robot.history)
        last_policy = max(c.t for c in history if c.source == "policy")
        holds = [c for c in history if c.source == "watchdog" and c.t > last_policy]
        assert len(holds) == 1 and holds[0].t - last_policy <= 0.1 and holds[0].action.tolist() == [0, 0, 0]
        assert last_policy <= killed_at
        before = sim.get_observation()["proprio"].copy()
        time.sleep(0.2)
        np.testing.assert_array_equal(sim.get_observation()["proprio"], before)  # still holding
    data = DemoDataset(root)
    assert len(data) >= 1 and all(m.length == 20 for m in data.episodes)  # only whole episodes
    for i in range(len(data)):
        assert len(data.episode(i).actions) == 20
    DatasetWriter(root, env_id="roboloop/RealRobot-v0", env_kwargs={"address": server.endpoint}, fps=20,
                  resume=True)  # reopens for more


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_server_and_record_scripts_work_together(tmp_path) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    env = {**os.environ, "ROBOLOOP_ROBOT_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    robot = ["robot=sim_push_cube", f"robot.address={address}"]
    server = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "robot_server.py"), *robot,
                               f"hydra.run.dir={tmp_path}/server"],
                              cwd="/", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "serving" in server.stdout.readline()
        record = subprocess.run([sys.executable, str(ROOT / "scripts" / "record_robot.py"), *robot,
                                 "teleop=expert", "episodes=2", "robot.realtime=false",
                                 f"hydra.run.dir={tmp_path}/record"], cwd="/", env=env, capture_output=True,
                                text=True, timeout=300)
        assert record.returncode == 0, record.stderr[-3000:]
    finally:
        server.send_signal(signal.SIGTERM)
        out = server.communicate(timeout=30)[0]
    assert server.returncode == 0 and "'torque_off': 1" in out
    data = DemoDataset(tmp_path / "record" / "dataset")
    assert data.env_id == REAL_ROBOT_ID and data.seeds == [0, 1] and TOKEN not in str(data.env_kwargs)
    assert data.env_kwargs["address"] == address and all(m.success for m in data.episodes)


@pytest.mark.parametrize("name, limit", [("sim_reach", "workspace"), ("sim_push_cube", "workspace"),
                                         ("mock", "workspace")])
def test_every_robot_config_builds_a_server_with_limits(name, limit, monkeypatch) -> None:
    from hydra import compose, initialize_config_dir

    monkeypatch.setenv("ROBOLOOP_ROBOT_TOKEN", TOKEN)
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    from robots import env_kwargs, make_server

    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base=None):
        cfg = compose("robot_server", overrides=[f"robot={name}"]).robot
    server = make_server(cfg)
    assert [lim.name for lim in server.robot.config.limits] == [limit]
    assert server.config.host == "127.0.0.1" and "token" not in env_kwargs(cfg)
    if server.robot.robot.is_connected:  # a SimRobot connects to read its task's limits
        server.robot.robot.disconnect()

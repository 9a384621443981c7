"""The networked robot: hello, latency, tokens, loopback, drops and retries, reconnects, the server-side
watchdog, the e-stop across reconnects, and fuzzing (10,000 messages as a slow test)."""

import logging
import time

import numpy as np
import pytest
import zmq

from envs.errors import ConfigError, InvalidActionError
from envs.real import (
    EmergencyStopError,
    Faults,
    MockRobot,
    RealRobotConfig,
    RealRobotEnv,
    SafeRobot,
    SafetyConfig,
)
from envs.real.errors import RobotConnectionError, RobotRejectedError
from envs.real.server import RobotServer, ServerConfig
from tests.real_helpers import TOKEN, act_frames, fuzz_messages, remote, serve


def test_a_client_sees_the_robots_features_and_measures_round_trips() -> None:
    mock = MockRobot(3)
    with serve(mock) as server:
        assert server.endpoint.startswith("tcp://127.0.0.1:")  # loopback by default
        robot = remote(server)
        assert robot.observation_features == mock.observation_features
        assert robot.action_features == mock.action_features and robot.control_hz == 20.0
        assert robot.hello["safety"]["watchdog_timeout_s"] == 0.08
        robot.reset(0)
        assert robot.send_action(np.array([0.5, 0.0, -0.5])).tolist() == [0.5, 0.0, -0.5]
        np.testing.assert_allclose(robot.get_observation()["proprio"], [0.005, 0, -0.005])
        assert robot.ping() > 0
        stats = robot.latency.summary()
        assert stats["requests"] == 5 and 0 < stats["p50_s"] <= stats["p95_s"] <= stats["max_s"] < 0.5
        robot.disconnect()
    assert mock.torque_offs == 1  # the server torques off when it stops


def test_a_wrong_token_is_refused_and_the_server_keeps_serving() -> None:
    mock = MockRobot(3)
    with serve(mock) as server:
        with pytest.raises(RobotConnectionError, match="tokens differ"):
            remote(server, token="not-the-servers-token-123", retries=0)
        assert server.rejections["bad_signature"] == 1
        robot = remote(server)
        robot.reset(0)
        robot.send_action(np.zeros(3))
        assert len(mock.commands) == 1
        robot.disconnect()


def test_binding_beyond_loopback_must_be_asked_for() -> None:
    with pytest.raises(ConfigError, match="allow_remote"):
        ServerConfig(host="0.0.0.0", token=TOKEN)
    ServerConfig(host="0.0.0.0", token=TOKEN, allow_remote=True)


def test_dropped_messages_are_retried_and_no_action_runs_twice() -> None:
    mock = MockRobot(3)
    faults = Faults(drop_rate=0.25, latency_s=0.001, jitter_s=0.002, seed=3)
    with serve(mock, faults=faults, safety=SafetyConfig(watchdog_timeout_s=None)) as server:
        robot = remote(server, timeout_s=0.05, retries=10)
        robot.reset(0)
        for i in range(30):
            robot.send_action(np.full(3, i / 100, np.float32))
        # each command reached the robot once, in order
        assert [round(float(c.action[0]) * 100) for c in mock.commands] == list(range(30))
        drops = server.faults.counts
        assert drops["dropped_request"] > 0 and drops["dropped_reply"] > 0 and server.requests["retry"] > 0
        assert robot.latency.retries > 0 and robot.latency.reconnects > 0
        robot.disconnect()


def test_the_client_reconnects_after_the_server_restarts() -> None:
    safe = SafeRobot(MockRobot(3), SafetyConfig(watchdog_timeout_s=None))
    first = RobotServer(safe, ServerConfig(port=0, token=TOKEN))
    endpoint = first.start()
    robot = remote(first, timeout_s=0.2, retries=20)
    robot.reset(0)
    robot.send_action(np.full(3, 0.1, np.float32))
    first.stop()
    port = int(endpoint.rsplit(":", 1)[1])
    second = RobotServer(safe, ServerConfig(port=port, token=TOKEN))
    second.start()
    robot.reset(0)
    robot.send_action(np.full(3, 0.2, np.float32))
    assert [float(c.action[0]) for c in safe.robot.commands] == pytest.approx([0.1, 0.2])
    robot.disconnect()
    second.stop()


def test_the_watchdog_on_the_server_holds_when_the_client_goes_silent() -> None:
    mock = MockRobot(3)
    with serve(mock) as server:
        robot = remote(server)
        robot.reset(0)
        for _ in range(6):
            robot.send_action(np.full(3, 0.3, np.float32))
            time.sleep(0.03)
        time.sleep(0.3)  # the client is alive but silent: no goodbye
        last, hold = mock.commands[-2:]
        assert last.action.tolist() == pytest.approx([0.3] * 3) and hold.action.tolist() == [0, 0, 0]
        assert hold.t - last.t <= 0.1 and server.robot.counts["watchdog"] == 1
        robot.disconnect()


def test_the_emergency_stop_latches_across_client_reconnects() -> None:
    mock = MockRobot(3)
    with serve(mock) as server:
        first = remote(server)
        first.reset(0)
        first.emergency_stop("operator pressed the button")
        first.disconnect()
        second = remote(server)
        assert second.send_action(np.ones(3, np.float32)).tolist() == [0, 0, 0]
        assert second.status()["safety"]["estop"].endswith("operator pressed the button")
        assert second.status()["safety"]["interventions"] == ["estop"]
        with pytest.raises(EmergencyStopError):
            second.reset(1)
        second.reset_emergency_stop()
        second.reset(1)
        assert second.send_action(np.full(3, 0.5, np.float32)).tolist() == [0.5] * 3
        second.disconnect()


def test_the_server_can_keep_e_stop_resets_to_itself() -> None:
    with serve(MockRobot(3), remote_estop_reset=False) as server:
        robot = remote(server)
        robot.emergency_stop("x")
        with pytest.raises(RobotRejectedError, match="forbidden"):
            robot.reset_emergency_stop()
        robot.disconnect()


def test_invalid_actions_come_back_as_errors_without_reaching_the_robot() -> None:
    mock = MockRobot(3)
    with serve(mock) as server:
        robot = remote(server)
        robot.reset(0)
        with pytest.raises(InvalidActionError, match="NaN"):
            robot.send_action(np.array([np.nan, 0, 0], np.float32))
        with pytest.raises(InvalidActionError, match="shape"):
            robot._request("act", arrays={"action": np.zeros(5, np.float32)})
        assert mock.commands == []
        robot.disconnect()


def test_replayed_requests_are_refused() -> None:
    mock = MockRobot(3)
    with serve(mock) as server:
        remote(server).reset(0)  # connects the robot session-independently
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.connect(server.endpoint)
        for seq in (5, 5, 4):  # a fresh request, its retry (cached answer), then an older one
            sock.send_multipart(act_frames(seq))
            assert sock.poll(2000)
            sock.recv_multipart()
        assert len(mock.commands) == 1 and server.rejections["stale_seq"] == 1
        sock.close(linger=0)


def fuzz(server: RobotServer, n: int) -> list[list[bytes]]:
    """Send ``n`` fuzz messages, one at a time, and collect every reply."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(server.endpoint)
    replies = []
    for frames in fuzz_messages(n, seed=n):
        sock.send_multipart(frames)
        assert sock.poll(5000), "the server stopped answering"
        replies.append(sock.recv_multipart())
    sock.close()
    return replies


def check_fuzz(n: int, caplog) -> None:
    mock = MockRobot(3)
    with caplog.at_level(logging.WARNING, logger="envs.real.server"), serve(mock) as server:
        replies = fuzz(server, n)
        assert len(replies) == n and sum(server.rejections.values()) == n
        assert all(b'"type":"error"' in r[-1] for r in replies)  # every one answered with its reason
        rejected = [r for r in caplog.records if r.getMessage().startswith("rejected message")]
        assert len(rejected) == n
        assert mock.commands == [] and not server.robot.history  # no action executed
        robot = remote(server)  # and the server keeps serving
        robot.reset(0)
        robot.send_action(np.full(3, 0.1, np.float32))
        assert len(mock.commands) == 1
        robot.disconnect()


def test_fuzzed_messages_are_all_refused_and_logged(caplog) -> None:
    check_fuzz(300, caplog)


@pytest.mark.slow
def test_ten_thousand_fuzzed_messages_leave_the_robot_untouched(caplog) -> None:
    check_fuzz(10_000, caplog)


def test_a_frame_over_the_hard_limit_drops_only_that_connection() -> None:
    mock = MockRobot(3)
    with serve(mock, hard_limit_bytes=2 << 20) as server:
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(server.endpoint)
        sock.send_multipart([b"\0" * 32, b"\0" * (3 << 20)])
        assert not sock.poll(300)  # ZeroMQ drops the connection, never reads the frame
        sock.close()
        robot = remote(server)
        robot.reset(0)
        robot.send_action(np.zeros(3, np.float32))
        assert len(mock.commands) == 1
        robot.disconnect()


def test_the_env_runs_over_the_network() -> None:
    with serve(MockRobot(3)) as server:
        env = RealRobotEnv(remote(server), RealRobotConfig(horizon=3, realtime=False))
        env.reset(seed=0)
        for _ in range(3):
            *_, info = env.step(np.full(3, 0.5, np.float32))
        assert info["timing"]["round_trip_s"] > 0 and info["safety"]["counts"] == {}
        env.close()

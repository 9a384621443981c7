"""Shared pieces of the real-robot tests: a server on a free loopback port, clients, fuzzed messages."""

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from envs.real import Faults, Robot, SafetyConfig
from envs.real.client import ClientConfig, RemoteRobot
from envs.real.fuzz import fuzz_messages as _fuzz
from envs.real.messages import Message, encode
from envs.real.server import RobotServer, ServerConfig

TOKEN = "test-token-0123456789abcdef"
KEY = TOKEN.encode()


@contextmanager
def serve(robot: Robot, *, safety: SafetyConfig | None = None, faults: Faults | None = None,
          **config) -> Iterator[RobotServer]:
    """A server for ``robot`` on a free loopback port, in a thread; stopped afterwards."""
    server = RobotServer(robot, ServerConfig(port=0, token=TOKEN, **config), safety=safety, faults=faults)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def remote(server: RobotServer, **config) -> RemoteRobot:
    """A connected client of ``server``."""
    robot = RemoteRobot(ClientConfig(address=server.endpoint, token=config.pop("token", TOKEN), **config))
    robot.connect()
    return robot


def act_frames(seq: int = 1, action=(0.1, 0.2, 0.3), key: bytes = KEY,
               session: str = "ab" * 8) -> list[bytes]:
    """A valid, signed act request."""
    return encode(Message("act", session, seq, {}, {"action": np.asarray(action, np.float32)}), key)


def fuzz_messages(n: int, seed: int = 0) -> Iterator[list[bytes]]:
    """``n`` messages the protocol refuses, signed (where valid-looking) with the tests' token."""
    return _fuzz(n, KEY, seed)

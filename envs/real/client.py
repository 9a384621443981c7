"""RemoteRobot: a Robot on the far side of a :class:`~envs.real.server.RobotServer`.

Requests follow ZeroMQ's "lazy pirate" pattern: a REQ socket, a timeout per attempt, and on
silence a fresh socket (reconnect) and the same request again; the server answers a retry from
its cache, so a lost reply never runs an action twice. Every round trip is timed (``latency``).
Safety runs on the server, beside the hardware, so this class is ``is_safe``.
"""

import logging
import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import zmq

from envs.errors import ConfigError, InvalidActionError
from envs.real.errors import (
    MessageError,
    RobotConnectionError,
    RobotFaultError,
    RobotNotConnectedError,
    RobotRejectedError,
)
from envs.real.features import Feature
from envs.real.messages import REPLY_LIMITS, TOKEN_ENV, Message, decode, encode, resolve_token
from envs.real.robot import Robot
from envs.real.safe_robot import EmergencyStopError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClientConfig:
    """Where the robot server is and how long to wait for it."""

    address: str = "tcp://127.0.0.1:5555"  # the server's endpoint
    token: str | None = None  # the shared secret; None: read from token_env (never store it in a config)
    token_env: str = TOKEN_ENV
    timeout_s: float = 0.5  # per attempt; then reconnect and retry
    retries: int = 4  # further attempts before RobotConnectionError
    connect_timeout_s: float = 10.0  # how long connect() keeps trying (the server may still be starting)

    def __post_init__(self) -> None:
        if not isinstance(self.address, str) or not self.address.startswith(("tcp://", "ipc://", "inproc://")):
            raise ConfigError(f"address must be a ZeroMQ endpoint like 'tcp://127.0.0.1:5555', got "
                              f"{self.address!r}")
        if not 0.001 <= self.timeout_s <= 60 or not 0.001 <= self.connect_timeout_s <= 600:
            raise ConfigError(f"timeout_s must be in [0.001, 60] and connect_timeout_s in [0.001, 600], got "
                              f"{self.timeout_s!r} and {self.connect_timeout_s!r}")
        if not isinstance(self.retries, int) or not 0 <= self.retries <= 100:
            raise ConfigError(f"retries must be an int in [0, 100], got {self.retries!r}")


@dataclass
class LatencyStats:
    """Round-trip times of successful requests (retries included) and the link's troubles."""

    round_trips: list[float] = field(default_factory=list)
    retries: int = 0
    reconnects: int = 0

    def summary(self) -> dict[str, float | int]:
        """p50/p95/p99/max in seconds, and the counts."""
        rtt = np.asarray(self.round_trips, float)
        out: dict[str, float | int] = {"requests": int(rtt.size), "retries": self.retries,
                                       "reconnects": self.reconnects}
        if rtt.size:
            out.update({f"p{q}_s": float(np.percentile(rtt, q)) for q in (50, 95, 99)})
            out.update(max_s=float(rtt.max()), mean_s=float(rtt.mean()))
        return out


class RemoteRobot(Robot):
    """The robot served at ``config.address``; its features come from the server's hello."""

    is_safe = True  # the server's SafeRobot enforces the limits, watchdog and e-stop

    def __init__(self, config: ClientConfig | None = None, **overrides: Any) -> None:
        self.config = ClientConfig(**{**(vars(config) if config else {}), **overrides})
        self._key = resolve_token(self.config.token, self.config.token_env)
        self.session = secrets.token_hex(8)  # kept across reconnects: the server dedupes retries by it
        self.latency = LatencyStats()
        self.hello: dict[str, Any] | None = None
        self._status: dict[str, Any] = {}
        self._seq = 0
        self._ctx: zmq.Context | None = None
        self._sock: zmq.Socket | None = None
        self._obs_features: dict[str, Feature] = {}
        self._action_feature: Feature | None = None

    @property
    def name(self) -> str:  # type: ignore[override]
        """The served robot's name."""
        return self.hello["robot"] if self.hello else "remote"

    @property
    def control_hz(self) -> float | None:  # type: ignore[override]
        """The served robot's command rate."""
        return self.hello["control_hz"] if self.hello else None

    @property
    def observation_features(self) -> dict[str, Feature]:
        """From the server's hello."""
        self._require()
        return self._obs_features

    @property
    def action_features(self) -> Feature:
        """From the server's hello."""
        self._require()
        return self._action_feature

    @property
    def is_connected(self) -> bool:
        """True after a successful hello."""
        return self.hello is not None and self._sock is not None

    def connect(self) -> None:
        """Open the socket and say hello (waits up to ``connect_timeout_s`` for the server)."""
        self._ctx = self._ctx or zmq.Context()
        self._open()
        try:
            # Keep asking for connect_timeout_s: the server may still be starting, or a hello may be lost.
            attempts = math.ceil(self.config.connect_timeout_s / self.config.timeout_s)
            body = self._request("hello", retries=max(self.config.retries, attempts - 1)).body
        except Exception:
            self._close_socket()
            raise
        try:
            self._obs_features = {k: Feature.from_json(v) for k, v in body["observation_features"].items()}
            self._action_feature = Feature.from_json(body["action_features"])
        except (KeyError, AttributeError, TypeError, ConfigError) as e:
            self._close_socket()
            raise RobotConnectionError(f"the server's hello is not a roboloop robot description ({e})") from e
        self.hello = body
        logger.info("connected to robot %r at %s (%s Hz)", self.name, self.config.address, self.control_hz)

    def get_observation(self) -> dict[str, np.ndarray]:
        """The robot's observation now."""
        self._require()
        return self._request("observe").arrays

    def send_action(self, action: np.ndarray) -> np.ndarray:
        """Send ``action``; returns what the server's safety layer actually sent."""
        self._require()
        arr = np.asarray(action, dtype=np.dtype(self._action_feature.dtype))
        return self._request("act", arrays={"action": arr}).arrays["action"]

    def reset(self, seed: int | None = None) -> None:
        """Start an episode on the server (the simulator-backed robot resets its task with ``seed``)."""
        self._require()
        self._request("reset", {"seed": None if seed is None else int(seed)})

    def status(self) -> dict[str, Any]:
        """The status that came with the last reply (task outcome, safety counts, e-stop)."""
        return self._status

    def emergency_stop(self, reason: str = "client") -> None:
        """Latch the e-stop on the server."""
        self._request("estop", {"reason": str(reason)})

    def reset_emergency_stop(self) -> None:
        """Clear a latched e-stop (if the server allows it from clients)."""
        self._request("estop_reset")

    def ping(self) -> float:
        """One round trip; returns its time in seconds."""
        t0 = time.perf_counter()
        self._request("ping")
        return time.perf_counter() - t0

    def torque_off(self) -> None:
        """Ask the server to cut motor power."""
        self._request("torque_off")

    def disconnect(self) -> None:
        """Tell the server (it holds the robot), then close the socket."""
        if self._sock is None:
            return
        try:
            self._request("bye", timeout_s=min(self.config.timeout_s, 0.5), retries=0)
        except (RobotConnectionError, RobotRejectedError) as e:
            logger.info("no goodbye from the server (%s); its watchdog holds the robot", e)
        finally:
            self._close_socket()
            self.hello = None
            if self._ctx is not None:
                self._ctx.term()
                self._ctx = None

    def _request(self, kind: str, body: dict[str, Any] | None = None, *, arrays: dict | None = None,
                 timeout_s: float | None = None, retries: int | None = None) -> Message:
        self._seq += 1
        frames = encode(Message(kind, self.session, self._seq, body or {}, arrays or {}), self._key)
        timeout_ms = int(1000 * (timeout_s or self.config.timeout_s))
        attempts = 1 + (self.config.retries if retries is None else retries)
        t0 = time.perf_counter()
        for attempt in range(attempts):
            if self._sock is None:
                self._open()
            self._sock.send_multipart(frames)
            if self._sock.poll(timeout_ms, zmq.POLLIN):
                reply = self._read_reply()
                break
            self.latency.retries += attempt + 1 < attempts
            self._reconnect()
        else:
            raise RobotConnectionError(
                f"no answer to {kind!r} from {self.config.address} after {attempts} attempt(s) of "
                f"{timeout_ms} ms; is scripts/robot_server.py running there and reachable?")
        self.latency.round_trips.append(time.perf_counter() - t0)
        if reply.type == "error":
            raise _rejection(reply.body)
        if reply.seq != self._seq or reply.session != self.session:
            raise RobotConnectionError(f"the server answered request {reply.seq} of session {reply.session}; "
                                       f"expected {self._seq} of {self.session}")
        self._status = reply.body.get("status", {})
        return reply

    def _read_reply(self) -> Message:
        frames = self._sock.recv_multipart()
        try:
            return decode(frames, self._key, REPLY_LIMITS)
        except MessageError as e:
            if e.code == "bad_signature":
                raise RobotConnectionError(
                    f"the server at {self.config.address} refused or did not sign with our token: the tokens "
                    f"differ. Set {self.config.token_env} to the server's token") from e
            raise RobotConnectionError(f"the server's reply is malformed ({e})") from e

    def _open(self) -> None:
        self._sock = self._ctx.socket(zmq.REQ)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(self.config.address)

    def _reconnect(self) -> None:
        self._close_socket()
        self.latency.reconnects += 1
        self._open()

    def _close_socket(self) -> None:
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None

    def _require(self) -> None:
        if not self.is_connected:
            raise RobotNotConnectedError("RemoteRobot is not connected; call connect() (or use it as a "
                                         "context manager) first")


def _rejection(body: dict[str, Any]) -> Exception:
    code, reason = str(body.get("code", "unknown")), str(body.get("reason", ""))
    if code == "estopped":
        return EmergencyStopError(reason)
    if code == "invalid_action":
        return InvalidActionError(reason)
    if code == "robot_fault":
        return RobotFaultError(reason)
    return RobotRejectedError(code, reason)

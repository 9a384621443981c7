"""RobotServer: serves one robot beside the hardware over ZeroMQ, safety and watchdog included.

A ROUTER socket bound to loopback by default answers signed requests (``envs/real/messages.py``)
from any number of clients. Every refused message gets an error reply with its reason, is logged
and counted in ``rejections``; nothing a client sends can reach the robot without a valid
signature and schema, and nothing it sends stops the server. Requests carry (session, seq): a
retried request gets the cached reply instead of running twice, an older one is refused (replay).
"""

import ipaddress
import logging
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any

import zmq

from envs.errors import ConfigError, InvalidActionError
from envs.real.errors import MessageError, RobotError, RobotFaultError
from envs.real.faults import FaultInjector, Faults
from envs.real.messages import (
    REQUEST_LIMITS,
    TOKEN_ENV,
    VERSION,
    Limits,
    Message,
    check_request,
    decode,
    encode,
    error_reply,
    resolve_token,
)
from envs.real.robot import Robot
from envs.real.safe_robot import EmergencyStopError, SafeRobot
from envs.real.safety import SafetyConfig

logger = logging.getLogger(__name__)
MAX_SESSIONS = 256  # clients remembered for retries and replay protection


@dataclass(frozen=True)
class ServerConfig:
    """Where the server listens and what it accepts."""

    host: str = "127.0.0.1"  # loopback: only this machine can connect
    port: int = 5555  # 0: any free port (read RobotServer.endpoint)
    token: str | None = None  # the shared secret; None: read from token_env
    token_env: str = TOKEN_ENV
    allow_remote: bool = False  # must be true to bind a non-loopback host
    max_request_bytes: int = REQUEST_LIMITS.max_message_bytes  # bigger requests: refused with a reason
    hard_limit_bytes: int = 8 << 20  # bigger frames: ZeroMQ drops the connection before reading them
    remote_estop_reset: bool = True  # may a client clear a latched e-stop (False: only the server side)
    poll_ms: int = 50  # how often the loop checks for stop()

    def __post_init__(self) -> None:
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be an int in [0, 65535] (0 picks a free one), got {self.port!r}")
        if not _is_loopback(self.host) and not self.allow_remote:
            raise ConfigError(f"host={self.host!r} is not loopback; the token authenticates but does not "
                              "encrypt, so binding other interfaces needs allow_remote=true (use a trusted "
                              "network or an SSH tunnel)")
        if not 1024 <= self.max_request_bytes <= self.hard_limit_bytes:
            raise ConfigError(f"need 1024 <= max_request_bytes <= hard_limit_bytes, got "
                              f"{self.max_request_bytes} and {self.hard_limit_bytes}")


class RobotServer:
    """Serves ``robot`` (wrapped in a :class:`SafeRobot` unless it is one) until :meth:`stop`."""

    def __init__(self, robot: Robot, config: ServerConfig | None = None, *,
                 safety: SafetyConfig | None = None, faults: Faults | None = None) -> None:
        self.config = config or ServerConfig()
        self._key = resolve_token(self.config.token, self.config.token_env)
        self.robot = robot if getattr(robot, "is_safe", False) else SafeRobot(robot, safety)
        self.faults = FaultInjector(faults or Faults())
        self.limits = Limits(max_message_bytes=self.config.max_request_bytes)
        self.rejections: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.endpoint: str | None = None
        self._sessions: OrderedDict[str, tuple[int, list[bytes]]] = OrderedDict()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ctx: zmq.Context | None = None
        self._sock: zmq.Socket | None = None

    def bind(self) -> str:
        """Connect the robot and bind the socket; returns the endpoint clients connect to."""
        self.robot.connect()
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.MAXMSGSIZE, self.config.hard_limit_bytes)
        self._sock.setsockopt(zmq.ROUTER_MANDATORY, 0)  # a reply to a vanished client is dropped
        port = "*" if self.config.port == 0 else str(self.config.port)
        self._sock.bind(f"tcp://{self.config.host}:{port}")
        self.endpoint = self._sock.getsockopt(zmq.LAST_ENDPOINT).decode()
        logger.info("serving robot %r on %s", self.robot.name, self.endpoint)
        return self.endpoint

    def start(self) -> str:
        """Bind and serve in a background thread (tests, the simulator-backed robot)."""
        endpoint = self.bind()
        self._thread = threading.Thread(target=self._loop, name="robot-server", daemon=True)
        self._thread.start()
        return endpoint

    def serve_forever(self) -> None:
        """Serve in this thread (binding first if needed) until :meth:`stop` or Ctrl-C; then torque off."""
        if self._sock is None:
            self.bind()
        try:
            self._loop()
        except KeyboardInterrupt:
            logger.info("interrupted: stopping the robot server")
        finally:
            self._close()

    def stop(self) -> None:
        """Stop serving, disconnect the robot (torque off), close the socket; safe in a signal handler."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._close()

    def _close(self) -> None:
        try:
            self.robot.disconnect()
        finally:
            if self._sock is not None:
                self._sock.close(linger=0)
                self._ctx.term()
                self._sock = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._sock.poll(self.config.poll_ms, zmq.POLLIN):
                continue
            frames = self._sock.recv_multipart()
            try:
                self._serve_one(frames)
            except Exception:  # a bug must not stop the robot's server; it is logged in full
                logger.exception("internal error while serving a message; still serving")

    def _serve_one(self, frames: list[bytes]) -> None:
        identity, rest = frames[0], frames[1:]
        envelope = [identity]
        if rest and rest[0] == b"":  # a REQ client's delimiter
            envelope, rest = [identity, b""], rest[1:]
        if self.faults.drop("request"):
            return
        self.faults.delay()
        reply = self._reply(rest, identity)
        if not self.faults.drop("reply"):
            self._sock.send_multipart(envelope + reply)

    def _reply(self, frames: list[bytes], identity: bytes) -> list[bytes]:
        request = None
        try:
            request = check_request(decode(frames, self._key, self.limits))
            cached = self._sessions.get(request.session)
            if cached is not None and request.seq == cached[0]:
                self.requests["retry"] += 1
                return cached[1]  # a retry: the first answer, not a second execution
            if cached is not None and request.seq < cached[0]:
                raise MessageError("stale_seq", f"seq {request.seq} is older than this session's last "
                                                f"{cached[0]} (a replay or a reordered retry)")
            reply = encode(self._handle(request), self._key)
        except MessageError as e:
            return self._refuse(request, identity, e.code, e.reason)
        except (RobotError, InvalidActionError, ConfigError) as e:
            reply = encode(error_reply(request, _robot_code(e), str(e)), self._key)
        self._remember(request.session, request.seq, reply)
        return reply

    def _refuse(self, request: Message | None, identity: bytes, code: str, reason: str) -> list[bytes]:
        self.rejections[code] += 1
        logger.warning("rejected message from client %s: %s: %s", identity.hex()[:10], code, reason)
        return encode(error_reply(request, code, reason), self._key)

    def _remember(self, session: str, seq: int, reply: list[bytes]) -> None:
        self._sessions[session] = (seq, reply)
        self._sessions.move_to_end(session)
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)

    def _handle(self, request: Message) -> Message:
        kind, robot = request.type, self.robot
        self.requests[kind] += 1
        body: dict[str, Any] = {}
        arrays = {}
        if kind == "hello":
            body = self.hello()
        elif kind == "observe":
            arrays = robot.get_observation()
        elif kind == "act":
            arrays = {"action": robot.send_action(request.arrays["action"])}
        elif kind == "reset":
            robot.reset(request.body["seed"])
            arrays = robot.get_observation()
        elif kind == "estop":
            robot.emergency_stop(f"client: {request.body['reason'][:200]}")
        elif kind == "estop_reset":
            if not self.config.remote_estop_reset:
                raise MessageError("forbidden", "this server clears e-stops only on the robot side "
                                                "(remote_estop_reset=false)")
            robot.reset_emergency_stop()
        elif kind == "torque_off":
            robot.torque_off()
        elif kind == "bye":
            robot.hold(source="bye")
        body.setdefault("status", robot.status())
        body.setdefault("server_time", time.monotonic())
        return Message("reply", request.session, request.seq, body, arrays)

    def hello(self) -> dict[str, Any]:
        """What a client needs to drive this robot: features, rate, safety, protocol version."""
        robot = self.robot
        return {"version": VERSION, "robot": robot.name, "control_hz": robot.control_hz,
                "observation_features": {k: f.to_json() for k, f in robot.observation_features.items()},
                "action_features": robot.action_features.to_json(), "safety": robot.config.to_dict()}


def _robot_code(error: Exception) -> str:
    if isinstance(error, EmergencyStopError):
        return "estopped"
    if isinstance(error, InvalidActionError):
        return "invalid_action"
    if isinstance(error, RobotFaultError):
        return "robot_fault"
    return "robot_error"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

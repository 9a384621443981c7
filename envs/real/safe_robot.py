"""SafeRobot: any Robot with safety inside it, on by default.

Every command goes through the :class:`~envs.real.safety.ActionFilter` (bounds, change per step,
velocity, joint/workspace limits); a :class:`~envs.real.watchdog.Watchdog` thread holds (or
torques off) the robot when commands stop; an emergency stop latches until
:meth:`SafeRobot.reset_emergency_stop` (it survives client reconnects and ``connect`` cycles);
a driver error torques the robot off and latches the e-stop; ``disconnect`` torques off first.
Every intervention is counted in ``counts`` and reported by :meth:`status`.
"""

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.errors import InvalidActionError
from envs.real.errors import RobotError, RobotFaultError, RobotNotConnectedError
from envs.real.features import Feature
from envs.real.robot import Robot
from envs.real.safety import ActionFilter, SafetyConfig
from envs.real.watchdog import Watchdog

logger = logging.getLogger(__name__)


class EmergencyStopError(RobotError):
    """The robot is e-stopped: it holds and refuses to start an episode until the e-stop is reset."""


@dataclass(frozen=True)
class SentCommand:
    """A command that reached the driver."""

    t: float  # time.monotonic() when it was sent
    action: np.ndarray
    source: str  # "policy", "watchdog" (hold), "estop" (hold while latched)


class SafeRobot(Robot):
    """Wraps ``robot``; ``history`` keeps the last commands sent (a black-box recorder)."""

    is_safe = True  # RealRobotEnv does not wrap it again

    def __init__(self, robot: Robot, config: SafetyConfig | None = None) -> None:
        self.robot, self.config = robot, config or SafetyConfig()
        self.counts: Counter[str] = Counter()
        self.history: deque[SentCommand] = deque(maxlen=self.config.history)
        self.estop_reason: str | None = None
        self.last_interventions: list[str] = []
        self._lock = threading.RLock()
        self._filter: ActionFilter | None = None
        self._latest: dict[str, np.ndarray] | None = None
        timeout = self.config.watchdog_timeout_s
        self.watchdog = None
        if timeout is not None:
            self.watchdog = Watchdog(timeout, self._on_watchdog, name=f"watchdog-{robot.name}")
        else:
            logger.warning("watchdog disabled for %s: a dead client leaves the last command running",
                           robot.name)

    @property
    def name(self) -> str:  # type: ignore[override]
        """The driver's name."""
        return self.robot.name

    @property
    def control_hz(self) -> float | None:  # type: ignore[override]
        """The driver's command rate."""
        return self.robot.control_hz

    @property
    def observation_features(self) -> dict[str, Feature]:
        """The driver's observation features."""
        return self.robot.observation_features

    @property
    def action_features(self) -> Feature:
        """The driver's action feature."""
        return self.robot.action_features

    @property
    def is_connected(self) -> bool:
        """True once ``connect()`` ran here and while the driver stays connected."""
        return self._filter is not None and self.robot.is_connected

    def connect(self) -> None:
        """Connect the driver and start the watchdog; a latched e-stop stays latched."""
        with self._lock:
            if not self.robot.is_connected:
                self.robot.connect()
            hz = self.robot.control_hz
            self._filter = ActionFilter(self.config, self.robot.action_features, 1.0 / hz if hz else None)
            self._filter.previous = self._hold()
        if self.watchdog is not None:
            self.watchdog.start()

    def get_observation(self) -> dict[str, np.ndarray]:
        """The driver's observation (kept: position limits act on the latest one)."""
        with self._lock:
            self._require()
            self._latest = self._guard(self.robot.get_observation)
            return self._latest

    def send_action(self, action: np.ndarray) -> np.ndarray:
        """Send ``action`` after the limits (or the hold action while e-stopped); returns what was sent."""
        with self._lock:
            self._require()
            if self.estop_reason is not None:
                self.counts["estop"] += 1
                self.last_interventions = ["estop"]
                return self._send(self._hold(), "estop")
            observation = self._latest
            if self.config.limits and observation is None:
                observation = self.get_observation()
            try:
                safe, hits = self._filter(action, observation)
            except InvalidActionError:
                self.counts["invalid"] += 1
                self.last_interventions = ["invalid"]
                raise
            self.counts.update(hits)
            self.last_interventions = hits
            sent = self._send(safe, "policy")
        if self.watchdog is not None:
            self.watchdog.feed()
        return sent

    def reset(self, seed: int | None = None) -> None:
        """Start an episode (refused while e-stopped); the watchdog rests until the next command."""
        with self._lock:
            self._require()
            if self.estop_reason is not None:
                raise EmergencyStopError(f"robot {self.name!r} is e-stopped ({self.estop_reason}); make it "
                                         "safe, then call reset_emergency_stop() before the next episode")
            if self.watchdog is not None:
                self.watchdog.disarm()
            self._guard(self.robot.reset, seed)
            self._latest = None
            self._filter.previous = self._hold()
            self.last_interventions = []

    def emergency_stop(self, reason: str = "operator") -> None:
        """Hold now and latch: every later command is replaced by the hold action until reset."""
        with self._lock:
            if self.estop_reason is None:
                self.estop_reason = reason
                self.counts["estop_latched"] += 1
                logger.warning("EMERGENCY STOP on %s: %s (latched until reset_emergency_stop)", self.name,
                               reason)
            if self.robot.is_connected:
                self._send(self._hold(), "estop")

    def hold(self, source: str = "hold") -> None:
        """Send the hold action now and rest the watchdog (e.g. a client said goodbye)."""
        if self.watchdog is not None:
            self.watchdog.disarm()
        with self._lock:
            if self.robot.is_connected and self._filter is not None:
                self._send(self._hold(), source)

    def reset_emergency_stop(self) -> None:
        """Clear a latched e-stop: the explicit step a person takes once the robot is safe."""
        with self._lock:
            if self.estop_reason is not None:
                logger.warning("e-stop on %s reset (was: %s)", self.name, self.estop_reason)
            self.estop_reason = None
            if self._filter is not None:
                self._filter.previous = self._hold()

    def torque_off(self) -> None:
        """Cut motor power through the driver (counted)."""
        with self._lock:
            self.counts["torque_off"] += 1
            self.robot.torque_off()

    def disconnect(self) -> None:
        """Stop the watchdog, torque off (unless configured not to), close the driver."""
        if self.watchdog is not None:
            self.watchdog.stop()
        with self._lock:
            if not self.robot.is_connected:
                return
            try:
                if self.config.torque_off_on_disconnect:
                    self.torque_off()
            finally:
                self.robot.disconnect()

    def close(self) -> None:
        """Disconnect (the env's close); ``connect`` would start over, the e-stop still latched."""
        self.disconnect()

    def hold_action(self) -> np.ndarray:
        """The driver's hold action."""
        return self._hold()

    def status(self) -> dict[str, Any]:
        """The driver's status plus ``safety``: e-stop, counts since start, this step's interventions."""
        with self._lock:
            return {**self.robot.status(), "safety": {
                "estop": self.estop_reason, "counts": dict(self.counts),
                "interventions": list(self.last_interventions)}}

    def _send(self, action: np.ndarray, source: str) -> np.ndarray:
        sent = np.asarray(self._guard(self.robot.send_action, action))
        self.history.append(SentCommand(time.monotonic(), sent.copy(), source))
        if self._filter is not None:
            self._filter.previous = sent.astype(np.float64).reshape(-1)
        return sent

    def _hold(self) -> np.ndarray:
        return np.asarray(self.robot.hold_action(), np.dtype(self.robot.action_features.dtype))

    def _require(self) -> None:
        if self._filter is None or not self.robot.is_connected:
            raise RobotNotConnectedError(f"robot {self.name!r} is not connected; call connect() (or use "
                                         "`with SafeRobot(...) as robot:`)")

    def _guard(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call the driver; on any driver error torque off and latch the e-stop, then raise."""
        try:
            return fn(*args)
        except RobotNotConnectedError:
            raise
        except Exception as e:
            self.counts["fault"] += 1
            self.estop_reason = self.estop_reason or f"driver fault: {type(e).__name__}: {e}"
            logger.error("driver fault on %s (%s): torque off, e-stop latched", self.name, e)
            try:
                self.torque_off()
            except Exception as off_error:  # the driver is already failing; report both
                logger.error("torque_off after the fault failed too: %s", off_error)
            raise RobotFaultError(f"robot {self.name!r} driver failed in {getattr(fn, '__name__', fn)}: "
                                  f"{e}; it was torqued off and e-stopped. Fix the cause, then "
                                  "reset_emergency_stop()") from e

    def _on_watchdog(self, last_feed: float) -> None:
        """No fresh command since ``last_feed``: hold (or torque off), unless one just arrived."""
        with self._lock:
            last = self.history[-1] if self.history else None
            fresh = last is not None and last.source == "policy" and last.t > last_feed + 1e-4
            if fresh or not self.robot.is_connected:
                return
            self.counts["watchdog"] += 1
            silence_ms = (time.monotonic() - last_feed) * 1e3
            logger.warning("watchdog: no command for %.0f ms on %s; %s", silence_ms, self.name,
                           self.config.on_timeout)
            try:
                if self.config.on_timeout == "hold":
                    self._send(self._hold(), "watchdog")
                else:
                    self.torque_off()
            except RobotError as e:  # already torqued off and e-stopped by _guard
                logger.error("watchdog could not act on %s: %s", self.name, e)

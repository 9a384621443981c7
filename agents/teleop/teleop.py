"""Programmatic teleoperation: a program sets the operator's command, the loop reads the latest.

Any program (a GUI, a spacemouse driver, a network listener, a test) calls ``engage``,
``command`` and ``release``; the rollout loop reads the latest command each step.

A :class:`Teleop` is both an Agent (it drives every step: teleoperated demonstrations) and a
Supervisor (it takes over only while engaged: HG-DAgger). Commands may come from another thread.
"""

import threading

import numpy as np

from envs.errors import ConfigError
from loop.protocols import Features


class Teleop:
    """The operator's latest command: ``engage(action)`` takes over, ``release()`` hands back."""

    def __init__(self, action_dim: int) -> None:
        if action_dim < 1:
            raise ConfigError(f"teleoperation needs a continuous action of size >= 1, got {action_dim}")
        self.action_dim = action_dim
        self._lock = threading.Lock()
        self._action = np.zeros(action_dim, dtype=np.float32)
        self._engaged = False

    def engage(self, action: np.ndarray | list[float] | None = None) -> None:
        """Take over (from the next step), with ``action`` as the command if given."""
        with self._lock:
            self._engaged = True
            if action is not None:
                self._action = self._checked(action)

    def command(self, action: np.ndarray | list[float]) -> None:
        """Set the command without changing who drives."""
        with self._lock:
            self._action = self._checked(action)

    def release(self) -> None:
        """Hand control back to the learner."""
        with self._lock:
            self._engaged = False

    @property
    def engaged(self) -> bool:
        """True while the operator drives."""
        return self._engaged

    def poll(self) -> None:
        """Read pending input (devices override this; a program calls engage/command directly)."""

    def reset(self) -> None:
        """Episode start: the operator's command and engagement persist (a person decides)."""

    def act(self, features: Features) -> np.ndarray:
        """As a driver (teleoperated demonstrations): the current command, every step."""
        self.poll()
        with self._lock:
            return self._action.copy()

    def intervene(self, obs: Features, proposed: np.ndarray) -> np.ndarray | None:
        """As a supervisor: the current command while engaged, else None."""
        self.poll()
        with self._lock:
            return self._action.copy() if self._engaged else None

    def _checked(self, action: np.ndarray | list[float]) -> np.ndarray:
        a = np.asarray(action, dtype=np.float32).reshape(-1)
        if a.shape != (self.action_dim,) or not np.isfinite(a).all():
            raise ConfigError(f"teleop command must be {self.action_dim} finite numbers in [-1, 1], "
                              f"got {action!r}")
        return np.clip(a, -1.0, 1.0)

"""Keyboard teleoperation in a terminal: keys move the command, space takes over and hands back.

    w/s  +x/-x    a/d  +y/-y    r/f  +z/-z    q/e  4th axis (gripper) -/+    x  zero the command
    space  take over / hand back (HG-DAgger; when collecting, the operator always drives)

Each key press moves its axis by ``step`` (clipped to [-1, 1]). Keys are read without waiting
(the terminal is put in cbreak mode while the teleop is open). Any readable text stream works in
place of the terminal, which is how the tests drive it.
"""

import os
import select
import sys
from typing import IO

import numpy as np

from agents.teleop.teleop import Teleop
from envs.errors import ConfigError

AXES = {"w": (0, 1), "s": (0, -1), "a": (1, 1), "d": (1, -1), "r": (2, 1), "f": (2, -1), "e": (3, 1),
        "q": (3, -1)}


class KeyboardTeleop(Teleop):
    """A :class:`Teleop` fed by key presses from ``stream`` (default: this process's terminal).

    A terminal is switched to cbreak mode (keys arrive unbuffered, unechoed) until :meth:`close`.
    """

    _saved_mode: list | None = None  # the terminal's mode before cbreak, restored by close()

    def __init__(self, action_dim: int, *, step: float = 0.25, stream: IO[str] | None = None) -> None:
        super().__init__(action_dim)
        self.step = step
        self.stream = _open_terminal() if stream is None else stream
        self._saved_mode = _cbreak(self.stream) if _is_terminal(self.stream) else None

    def poll(self) -> None:
        """Apply every key pressed since the last step."""
        for key in _pending(self.stream):
            if key == " ":
                self.release() if self.engaged else self.engage()
            elif key == "x":
                self.command(np.zeros(self.action_dim))
            elif key in AXES and AXES[key][0] < self.action_dim:
                axis, sign = AXES[key]
                action = self._action.copy()
                action[axis] += sign * self.step
                self.command(action)

    def close(self) -> None:
        """Restore the terminal's mode."""
        if self._saved_mode is not None:
            import termios

            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved_mode)
            self._saved_mode = None

    def __del__(self) -> None:
        self.close()


def _open_terminal() -> IO[str]:
    if not sys.stdin.isatty():
        raise ConfigError("keyboard teleop needs an interactive terminal, but stdin is not one (a pipe, "
                          "CI or a batch job); run from a terminal, or use expert=scripted or the "
                          "programmatic agents.teleop.Teleop")
    return sys.stdin


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _cbreak(stream: IO[str]) -> list:
    import termios
    import tty

    mode = termios.tcgetattr(stream.fileno())
    tty.setcbreak(stream.fileno())
    return mode


def _pending(stream: IO[str]) -> str:
    """Characters available now, without blocking."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # an in-memory stream: everything is available
        return stream.read()
    keys = ""
    while select.select([fd], [], [], 0)[0]:
        chunk = os.read(fd, 64).decode(errors="ignore")
        if not chunk:
            break
        keys += chunk
    return keys

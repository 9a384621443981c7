"""A command watchdog in its own thread: no fresh command within the deadline -> one callback.

It runs beside the hardware (inside :class:`envs.real.safe_robot.SafeRobot`, so on the robot
server), which is what makes a dead client, a hung policy or a cut cable end in a hold instead of
the last command running on.
"""

import threading
import time
from collections.abc import Callable

from envs.errors import ConfigError


class Watchdog:
    """Calls ``on_expire(last_feed_time)`` once when ``feed`` was not called for ``timeout_s``.

    ``feed`` arms it (each command does); it fires once per silence and then waits for the next
    ``feed``; ``disarm`` stops watching until then (a robot at rest between episodes). ``delays``
    keeps how long after the last feed each expiry actually ran (seconds).
    """

    def __init__(self, timeout_s: float, on_expire: Callable[[float], None], *,
                 name: str = "watchdog") -> None:
        if not timeout_s > 0:
            raise ConfigError(f"watchdog timeout must be > 0 seconds, got {timeout_s!r}")
        self.timeout_s, self.on_expire = timeout_s, on_expire
        self.expiries = 0
        self.delays: list[float] = []
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._last = 0.0
        self._stopping = False
        self.name = name
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (idempotent, also after ``stop``); it waits, disarmed, for the first ``feed``."""
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping, self._deadline = False, None
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def feed(self) -> None:
        """A fresh command: (re)arm the deadline ``timeout_s`` from now."""
        with self._cond:
            self._last = time.monotonic()
            self._deadline = self._last + self.timeout_s
            self._cond.notify()

    def disarm(self) -> None:
        """Stop watching until the next ``feed``."""
        with self._cond:
            self._deadline = None
            self._cond.notify()

    def stop(self) -> None:
        """End the thread (``start`` makes a new one)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=2.0)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (self._deadline is None or time.monotonic() < self._deadline):
                    self._cond.wait(None if self._deadline is None else self._deadline - time.monotonic())
                if self._stopping:
                    return
                last, self._deadline = self._last, None
            self.expiries += 1
            self.delays.append(time.monotonic() - last)
            self.on_expire(last)  # outside the lock: a feed during the callback re-arms it

"""Errors of the real-robot module; each derives from RoboloopError and the built-in a caller expects."""

from envs.errors import RoboloopError


class RobotError(RoboloopError, RuntimeError):
    """A robot could not do what it was asked (not connected, a driver failure, a bad observation)."""


class RobotNotConnectedError(RobotError):
    """A robot was used before ``connect()`` or after ``disconnect()``."""


class RobotFaultError(RobotError):
    """The driver raised while commanding or reading the robot; it was torqued off and e-stopped."""


class RobotConnectionError(RobotError, ConnectionError):
    """The robot server did not answer within the retries, or answered with something unusable."""


class RobotRejectedError(RobotError):
    """The robot server refused a request; ``code`` names the reason (e.g. ``"bad_signature"``)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"robot server refused the request ({code}): {reason}")
        self.code, self.reason = code, reason


class MessageError(RoboloopError, ValueError):
    """A wire message is malformed, truncated, oversized, unsigned or off-schema; ``code`` says which."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code, self.reason = code, reason


class DeadlineMissedError(RobotError):
    """A control step started after its deadline and the env was told to raise (``on_overrun="raise"``)."""

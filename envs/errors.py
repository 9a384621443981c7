"""The roboloop exception hierarchy. Every message says what was expected, what came, and the fix."""


class RoboloopError(Exception):
    """Base class of every error roboloop raises on purpose."""


class EnvConfigError(RoboloopError, ValueError):
    """An env was asked for with a name or keyword argument it does not accept."""


class InvalidActionError(RoboloopError, ValueError):
    """An action has the wrong shape, dtype or contains NaN/inf."""


class PhysicsInstabilityError(RoboloopError, RuntimeError):
    """The simulator diverged; the episode was ended and must be reset before stepping again."""

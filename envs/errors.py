"""The roboloop exception hierarchy. Every message says what was expected, what came, and the fix."""


class RoboloopError(Exception):
    """Base class of every error roboloop raises on purpose."""


class ConfigError(RoboloopError, ValueError):
    """A component was asked for with a name or option it does not accept."""


class EnvConfigError(ConfigError):
    """An env was asked for with a name or keyword argument it does not accept."""


class ResetNeededError(RoboloopError, RuntimeError):
    """``step()`` was called before ``reset()`` or after the episode ended."""


class InvalidActionError(RoboloopError, ValueError):
    """An action has the wrong shape, dtype or contains NaN/inf."""

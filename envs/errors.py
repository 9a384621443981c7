"""The roboloop exception hierarchy. Every message says what was expected, what came, and the fix.

Every error roboloop raises on purpose derives from :class:`RoboloopError` (``except
RoboloopError`` catches them all) and also from the built-in exception a caller would expect
(``ValueError``, ``KeyError``, ...), so generic handlers keep working. ``tests/test_errors.py``
checks that no product module raises a bare built-in. This module sits in the lowest layer so that
every layer can import it.
"""


class RoboloopError(Exception):
    """Base class of every error roboloop raises on purpose."""


class ConfigError(RoboloopError, ValueError):
    """A component was asked for with a name or option it does not accept."""


class EnvConfigError(ConfigError):
    """An env was asked for with a name or keyword argument it does not accept."""


class ResetNeededError(RoboloopError, RuntimeError):
    """``step()`` was called before ``reset()`` or after the episode ended."""


class EnvClosedError(RoboloopError, RuntimeError):
    """An env was used after ``close()``."""


class InvalidActionError(RoboloopError, ValueError):
    """An action has the wrong shape, dtype or contains NaN/inf."""


class InvalidObservationError(RoboloopError, ValueError):
    """An observation (or features made from it) contains NaN/inf or has the wrong form."""


class SnapshotError(RoboloopError, TypeError, ValueError):
    """``set_state`` got something that is not a snapshot of this very env."""


class NotPicklableError(RoboloopError, TypeError):
    """An object that holds a simulator connection was asked to pickle."""

"""roboloop environments: Gymnasium tasks whose logic is written once and run on a physics backend.

Importing this package registers every task id (``roboloop/<Task>-v<N>``) with Gymnasium through
string entry points, so no simulator is imported until ``gymnasium.make`` is called.
"""

from envs.errors import (
    ConfigError,
    EnvClosedError,
    EnvConfigError,
    InvalidActionError,
    ResetNeededError,
    RoboloopError,
)
from envs.headless import configure_headless_rendering
from envs.registry import make, make_vec, registered_ids
from envs.success import SuccessFromReturn

configure_headless_rendering()

__all__ = [
    "ConfigError",
    "EnvClosedError",
    "ResetNeededError",
    "EnvConfigError",
    "InvalidActionError",
    "RoboloopError",
    "SuccessFromReturn",
    "make",
    "make_vec",
    "registered_ids",
]

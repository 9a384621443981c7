"""Validation of env options at ``make`` time, with messages naming the option, value and fix.

Integers accept numpy integers and refuse bools; real numbers refuse bools, strings and NaN.
"""

import numbers
from typing import Any

from envs.errors import EnvConfigError


def integer(name: str, value: Any, low: int = 1, high: int | None = None) -> int:
    """``value`` as an int in [low, high]; numpy integers pass, bools, floats and strings do not."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise EnvConfigError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise EnvConfigError(f"{name} must be an integer {bounds}, got {value!r}")
    return int(value)


def real(name: str, value: Any, low: float | None = None, high: float | None = None) -> float:
    """``value`` as a finite float in [low, high]; bools and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value:
        raise EnvConfigError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    if (low is not None and value < low) or (high is not None and value > high):
        raise EnvConfigError(f"{name} must be in [{low}, {high}], got {value!r}")
    return float(value)

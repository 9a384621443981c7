"""Every error roboloop raises on purpose derives from RoboloopError (and from the expected built-in)."""

import ast

import pytest

from tests.conftest import ROOT

PACKAGES = ["envs", "agents", "perception", "world_models", "loop", "dataset", "scripts"]
BUILTINS = {"ValueError", "KeyError", "TypeError", "IndexError", "RuntimeError", "OSError",
            "FileNotFoundError", "FileExistsError", "Exception", "AttributeError", "LookupError"}


def bare_raises(path) -> list[str]:
    """``raise ValueError(...)``-style statements: a built-in raised directly."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            name = getattr(node.exc.func, "id", None)
            if name in BUILTINS:
                out.append(f"{path.relative_to(ROOT)}:{node.lineno} raises {name}")
    return out


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_raises_a_bare_builtin(package: str) -> None:
    found = [hit for path in sorted((ROOT / package).rglob("*.py")) for hit in bare_raises(path)]
    assert not found, "raise a roboloop error (envs/errors.py, dataset/errors.py):\n" + "\n".join(found)


def test_roboloop_errors_are_also_the_builtins_callers_catch() -> None:
    from agents.checkpoint import CheckpointError, CheckpointNotFoundError
    from dataset import DatasetFormatError, DatasetIndexError, DatasetKeyError, VideoError
    from envs import ConfigError, InvalidActionError, RoboloopError
    from envs.errors import SnapshotError
    from loop import MissingSuccessError
    from loop.seeds import SeedOverlapError
    from perception import ObservationKeyError

    for cls, builtin in [(ConfigError, ValueError), (InvalidActionError, ValueError),
                         (SnapshotError, TypeError), (CheckpointError, ValueError),
                         (CheckpointNotFoundError, FileNotFoundError), (DatasetFormatError, ValueError),
                         (DatasetKeyError, KeyError), (DatasetIndexError, IndexError), (VideoError, OSError),
                         (MissingSuccessError, KeyError), (SeedOverlapError, ValueError),
                         (ObservationKeyError, KeyError)]:
        assert issubclass(cls, RoboloopError) and issubclass(cls, builtin), cls

"""Imports point one way, down the stack: scripts -> agents / world_models -> loop -> perception -> envs.

``dataset`` sits beside the loop (below agents, above envs: it uses only the error base class).
"""

import ast

import pytest

from tests.conftest import ROOT

# package -> roboloop packages it may import (itself always allowed)
ALLOWED = {
    "envs": set(),
    "perception": {"envs"},
    "dataset": {"envs"},
    "loop": {"perception", "envs", "dataset"},
    "agents": {"loop", "perception", "envs", "dataset"},
    "world_models": {"agents", "loop", "perception", "envs", "dataset"},
}
ROBOLOOP = {"envs", "perception", "dataset", "loop", "agents", "world_models", "scripts", "benchmarks"}


def imported_packages(path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & ROBOLOOP


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_down_the_stack(package: str) -> None:
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_packages(path) - ALLOWED[package] - {package}
        wrong += [f"{path.relative_to(ROOT)} imports {sorted(bad)}"] if bad else []
    assert not wrong, "\n".join(wrong)

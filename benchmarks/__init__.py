"""Benchmarks for roboloop; ``python -m benchmarks`` (``make bench``) runs the env speed benchmark.

``envs`` is imported first: it selects the headless GL backend, which MuJoCo reads once when it is
imported (by us or by Gymnasium's own MuJoCo envs).
"""

import envs  # noqa: F401  (must come before anything imports mujoco)
from benchmarks.env_speed import main, run
from benchmarks.report import to_markdown
from benchmarks.rows import Plan

__all__ = ["Plan", "main", "run", "to_markdown"]

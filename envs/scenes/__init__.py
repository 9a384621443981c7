"""Physics backends: each scene owns a simulator model and exposes named, task-level accessors."""

import importlib

from envs.errors import EnvConfigError


def scene_class(backends: dict[str, str], backend: str) -> type:
    """Import a task's scene class by backend name; the simulator is imported only here."""
    if backend not in backends:
        raise EnvConfigError(
            f"backend={backend!r} is not available for this task; valid choices: {list(backends)}")
    module_name, cls_name = backends[backend].split(":")
    return getattr(importlib.import_module(module_name), cls_name)

"""Physics backends: each scene owns a simulator model and exposes named, task-level accessors."""

import importlib
import logging

from envs.errors import EnvConfigError
from envs.scenes.c_output import c_output_to_log

logger = logging.getLogger("envs.scenes")


def scene_class(backends: dict[str, str], backend: str) -> type:
    """Import a task's scene class by backend name; the simulator is imported only here."""
    if backend not in backends:
        raise EnvConfigError(
            f"backend={backend!r} is not available for this task; valid choices: {list(backends)}")
    module_name, cls_name = backends[backend].split(":")
    with c_output_to_log(logger):  # importing pybullet prints its build time from C
        module = importlib.import_module(module_name)
    return getattr(module, cls_name)

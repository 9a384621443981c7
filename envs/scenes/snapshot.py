"""What both backends' ``get_state`` / ``set_state`` share: the Python side of a scene's state.

Each scene class lists, in ``dynamic_attrs``, the attributes it changes while an episode runs
(readings cached between ``step`` and ``read``, controller targets, the goal). A snapshot copies
those of every class in the scene's MRO beside the simulator's own state.
"""

import copy
from typing import Any

from envs.contracts import SceneState
from envs.errors import SnapshotError


def python_state(scene: Any) -> dict[str, Any]:
    """Deep copies of the attributes named by ``dynamic_attrs`` over ``type(scene).__mro__``."""
    names = {n for cls in type(scene).__mro__ for n in vars(cls).get("dynamic_attrs", ())}
    return {name: copy.deepcopy(getattr(scene, name)) for name in sorted(names)}


def restore_python_state(scene: Any, state: SceneState) -> None:
    """Check that ``state`` came from ``scene`` and put its Python attributes back (as copies)."""
    if not isinstance(state, SceneState):
        raise SnapshotError(f"set_state expects the SceneState returned by get_state(), got "
                        f"{type(state).__name__}")
    if state.owner != id(scene):
        raise SnapshotError(f"this SceneState was taken from another {type(scene).__name__}; a state "
                         "only restores the scene (the env) that made it")
    for name, value in state.python.items():
        setattr(scene, name, copy.deepcopy(value))

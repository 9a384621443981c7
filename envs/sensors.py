"""Observation sensors, registered in one place.

A :class:`Sensor` says what one observation entry is (its space) and how to read it. Camera
sensors give one entry per selected camera, ``"<cam>_<name>"``, from the images the scene rendered
for that camera; the other sensors give one entry, ``"<name>"``. ``obs_mode`` names sensors joined
with ``+`` (``"rgb+depth"``), so a new sensor (force/torque, ground-truth keypoints, ...) is one
:func:`register_sensor` call: :class:`envs.task_env.TaskEnv` builds its observation space and its
observations by iterating over the sensors it was asked for.

The two vector sensors are always on in dict observations: ``state`` (privileged: object poses and
goals, for experts and relabelling; left out with ``privileged_state=False``) and ``proprio`` (what
the robot senses itself).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from gymnasium import spaces

from envs.cameras import depth_to_pointcloud
from envs.errors import EnvConfigError

if TYPE_CHECKING:
    from envs.task_env import TaskEnv

MODALITIES = ("rgb", "depth", "segmentation")  # what Scene.render can produce


@dataclass(frozen=True)
class Sensor:
    """One kind of observation entry.

    ``space(env)`` is the entry's space. ``read(env, state, camera, images)`` returns its value
    for the scene state ``state``; camera sensors get their camera's name and the rendered
    ``images`` (the modalities listed in ``renders``, with the env's depth noise applied), other
    sensors get ``None`` and ``{}``.
    """

    name: str
    space: Callable[["TaskEnv"], spaces.Space]
    read: Callable[["TaskEnv", Any, str | None, dict[str, np.ndarray]], np.ndarray]
    per_camera: bool = True
    renders: tuple[str, ...] = ()  # scene render modalities the sensor needs

    def __reduce__(self) -> tuple:
        """Pickle by name (envs pickle; the registry holds the functions)."""
        return find_sensor, (self.name,)


SENSORS: dict[str, Sensor] = {}


def register_sensor(sensor: Sensor) -> Sensor:
    """Make ``sensor`` available to ``obs_mode``; a name can be registered once."""
    if sensor.name in SENSORS:
        raise EnvConfigError(f"a sensor named {sensor.name!r} is already registered; pick another name")
    bad = [m for m in sensor.renders if m not in MODALITIES]
    if bad:
        raise EnvConfigError(f"sensor {sensor.name!r} asks scenes to render {bad}; scenes render "
                             f"{list(MODALITIES)}")
    SENSORS[sensor.name] = sensor
    return sensor


def find_sensor(name: str) -> Sensor:
    """The registered sensor ``name``; the error lists the registered ones."""
    if name not in SENSORS:
        raise EnvConfigError(f"unknown sensor {name!r}; registered sensors: {sorted(SENSORS)}")
    return SENSORS[name]


def _image(env: "TaskEnv", shape: tuple[int, ...], low: float, high: float, dtype: type) -> spaces.Box:
    return spaces.Box(low, high, (env.image_size, env.image_size, *shape), dtype)


def _pointcloud(env: "TaskEnv", state: Any, camera: str | None, images: dict) -> np.ndarray:
    s = env.image_size
    p = env.scene.camera_params(camera, s, s)
    return depth_to_pointcloud(images["depth"], p.intrinsics, p.extrinsics)


def _vector(names: str) -> Callable[["TaskEnv"], spaces.Box]:
    def space(env: "TaskEnv") -> spaces.Box:
        return spaces.Box(-np.inf, np.inf, (len(getattr(env.task, names)),), np.float32)
    return space


register_sensor(Sensor(
    "state", _vector("state_names"), per_camera=False,
    read=lambda env, state, camera, images: env.add_obs_noise(env.task.state_vector(state))))
register_sensor(Sensor(
    "proprio", _vector("proprio_names"), per_camera=False,
    read=lambda env, state, camera, images: env.add_obs_noise(env.task.proprio_vector(state))))
register_sensor(Sensor(
    "rgb", lambda env: _image(env, (3,), 0, 255, np.uint8), renders=("rgb",),
    read=lambda env, state, camera, images: images["rgb"]))
register_sensor(Sensor(
    "depth", lambda env: _image(env, (), 0.0, env.scene.far, np.float32), renders=("depth",),
    read=lambda env, state, camera, images: images["depth"]))
register_sensor(Sensor(
    "segmentation", lambda env: _image(env, (), 0, len(env.scene.labels), np.uint8),
    renders=("segmentation",), read=lambda env, state, camera, images: images["segmentation"]))
register_sensor(Sensor(
    "pointcloud", lambda env: spaces.Box(-np.inf, np.inf, (env.image_size ** 2, 3), np.float32),
    renders=("depth",), read=_pointcloud))

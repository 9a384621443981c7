"""The seam between task logic and physics backends.

A :class:`Task` decides *what* an episode is (initial layout, observation vectors, reward, success)
from a backend-neutral scene state. A :class:`Scene` decides *how* it is simulated (model, actuators,
cameras). :class:`envs.task_env.TaskEnv` composes one of each into a Gymnasium env, so porting a
task to a new backend means writing a scene, never touching the task.

``envs/scenes/mujoco_base.py`` and ``envs/scenes/pybullet_base.py`` implement everything here but
``reset``, ``read`` and the actuation; a scene subclass adds those for its model.
"""

from typing import Any, Protocol

import numpy as np

from envs.cameras import CameraParams
from envs.randomization import EpisodeRandomization


class Scene(Protocol):
    """A simulated world for one task; all state lives here."""

    action_dim: int  # normalized action size (e.g. MuJoCo ``nu``)
    control_dt: float  # seconds of simulated time per env step
    cameras: tuple[str, ...]  # names accepted by ``render``; the first is the default
    labels: tuple[str, ...]  # segmentation id i >= 1 names labels[i - 1]; 0 is unlabelled
    far: float  # depth reads this where a pixel sees nothing

    def reset(self, layout: Any) -> None:
        """Put the world in the task's initial layout (positions, goal, ...)."""

    def step(self, action: np.ndarray) -> str | None:
        """Apply a normalized action in [-1, 1] (action_dim,) for one control step.

        Returns a description of a physics blow-up, else None.
        """

    def read(self) -> Any:
        """Return the task-level state (a small NamedTuple of floats)."""

    def render(self, camera: str, width: int, height: int,
               modalities: tuple[str, ...] = ("rgb",)) -> dict[str, np.ndarray]:
        """Requested images from a named camera.

        ``rgb`` (H, W, 3) uint8, ``depth`` (H, W) float32 metres, ``segmentation`` (H, W) uint8.
        """

    def camera_params(self, camera: str, width: int, height: int) -> CameraParams:
        """Intrinsics and current extrinsics (see ``envs/cameras.py`` for the conventions)."""

    def nominal_camera_poses(self) -> dict[str, np.ndarray]:
        """Camera-to-world poses before jitter, for sampling a randomization."""

    def randomize(self, sample: EpisodeRandomization) -> None:
        """Apply one episode's domain randomization relative to the nominal model."""

    def close(self) -> None:
        """Release renderers and simulator handles."""


class Task(Protocol):
    """Backend-neutral task logic over the scene state returned by :meth:`Scene.read`.

    A task with discrete actions also sets ``action_table`` (n, action_dim): row i is the
    normalized scene action that discrete action i stands for (and ``action_names``). A task whose
    goal is to survive (CartPole) sets ``success_at_horizon = True``: reaching the horizon without
    a failure counts as success.
    """

    state_names: tuple[str, ...]  # one name per entry of ``state_vector``
    proprio_names: tuple[str, ...]  # one name per entry of ``proprio_vector``

    def sample_layout(self, rng: np.random.Generator) -> Any:
        """Draw an initial layout; the same generator state gives the same layout on any backend."""

    def state_vector(self, state: Any) -> np.ndarray:
        """Privileged observation, float32 (len(state_names),)."""

    def proprio_vector(self, state: Any) -> np.ndarray:
        """Robot-only observation, float32 (len(proprio_names),)."""

    def reward_terms(self, state: Any, action: np.ndarray) -> dict[str, float]:
        """Named reward terms; the env's reward is their sum."""

    def outcome(self, state: Any) -> tuple[bool, str | None]:
        """(success, failure reason or None); either one ends the episode as terminated."""

"""The seam between task logic and physics backends.

A :class:`Task` decides *what* an episode is (initial layout, observation vectors, reward, success)
from a backend-neutral scene state. A :class:`Scene` decides *how* it is simulated (model, actuators,
cameras). :class:`envs.task_env.TaskEnv` composes one of each into a Gymnasium env, so porting a
task to a new backend means writing a scene, never touching the task.

``envs/scenes/mujoco_base.py`` and ``envs/scenes/pybullet_base.py`` implement everything here but
``reset``, ``read`` and the actuation; a scene subclass adds those for its model. Tasks derive from
:class:`TaskBase`, which gives every optional part of :class:`Task` its default.
"""

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from envs.cameras import CameraParams
from envs.randomization import EpisodeRandomization


@dataclass(frozen=True, eq=False)
class SceneState:
    """A scene's dynamic state at one instant, as :meth:`Scene.get_state` returns it.

    ``physics`` is the backend's own snapshot (MuJoCo: the ``mj_getState`` integration state;
    PyBullet: a handle on a state saved in its server); ``python`` holds copies of the scene's
    Python-side dynamic attributes (cached readings, controller targets, the goal). A state is
    only valid for the scene object that made it (``owner``).
    """

    owner: int  # id() of the scene
    physics: Any
    python: dict[str, Any]


class Scene(Protocol):
    """A simulated world for one task; all state lives here."""

    action_dim: int  # normalized action size (e.g. MuJoCo ``nu``)
    control_dt: float  # seconds of simulated time per env step
    frame_skip: int  # physics steps per env step
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

    def get_state(self) -> SceneState:
        """Snapshot of the dynamic state (not the model parameters a randomization set)."""

    def set_state(self, state: SceneState) -> None:
        """Restore :meth:`get_state`'s snapshot; stepping on reproduces the original exactly."""

    def close(self) -> None:
        """Release renderers and simulator handles."""


class Task(Protocol):
    """Backend-neutral task logic over the scene state returned by :meth:`Scene.read`.

    Everything :class:`envs.task_env.TaskEnv` reads of a task is declared here.
    """

    state_names: tuple[str, ...]  # one name per entry of ``state_vector``
    proprio_names: tuple[str, ...]  # one name per entry of ``proprio_vector``
    # Discrete tasks: (n, action_dim) rows of normalized scene actions, one per discrete action i;
    # None for continuous actions.
    action_table: np.ndarray | None
    action_names: tuple[str, ...]  # one name per row of ``action_table``
    success_at_horizon: bool  # survival tasks (CartPole): reaching the horizon unharmed is success
    memory: dict[str, Any]  # per-episode memory (cleared by ``start_episode``; env snapshots copy it)

    def sample_layout(self, rng: np.random.Generator) -> Any:
        """Draw an initial layout; the same generator state gives the same layout on any backend."""

    def start_episode(self, layout: Any) -> None:
        """Called after the scene took ``layout``: clear the per-episode ``memory``."""

    def state_vector(self, state: Any) -> np.ndarray:
        """Privileged observation, float32 (len(state_names),)."""

    def proprio_vector(self, state: Any) -> np.ndarray:
        """Robot-only observation, float32 (len(proprio_names),)."""

    def reward_terms(self, state: Any, action: np.ndarray) -> dict[str, float]:
        """Named reward terms; the env's reward is their sum."""

    def outcome(self, state: Any) -> tuple[bool, str | None]:
        """(success, failure reason or None); either one ends the episode as terminated."""


class TaskBase:
    """Defaults for the optional parts of :class:`Task`.

    Continuous actions, no survival goal, and a per-episode ``memory`` dict that
    :meth:`start_episode` clears. A task that remembers
    something across steps (e.g. how long the object has stayed in the goal) keeps it in
    ``memory`` so that env snapshots (``TaskEnv.get_state``) capture it.
    """

    action_table: np.ndarray | None = None
    action_names: tuple[str, ...] = ()
    success_at_horizon: bool = False

    def __init__(self) -> None:
        self.memory: dict[str, Any] = {}

    def start_episode(self, layout: Any) -> None:
        """Forget the last episode."""
        self.memory = {}

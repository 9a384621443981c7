"""A Gymnasium env composed of a backend-neutral Task and a backend-specific Scene."""

import copy
import inspect
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.cameras import CameraParams
from envs.contracts import Scene, SceneState, Task
from envs.errors import (
    EnvClosedError,
    EnvConfigError,
    InvalidActionError,
    ResetNeededError,
    SnapshotError,
)
from envs.options import integer
from envs.randomization import Randomization
from envs.scenes import scene_class
from envs.sensors import SENSORS, Sensor, find_sensor

logger = logging.getLogger(__name__)

RENDER_MODES = ("rgb_array",)
MAX_IMAGE_SIZE = 640  # px: the largest observation or render image a camera may produce


@dataclass(frozen=True)
class EnvState:
    """Everything :meth:`TaskEnv.set_state` needs to continue an episode exactly from one instant.

    The scene's dynamic state, the step count, actions still in the latency queue, the task's
    per-episode memory and the env's random generator (observation noise draws from it). Model
    parameters (a domain-randomization draw) are not included: restore within the same episode.
    """

    scene: SceneState
    t: int
    needs_reset: bool
    pending: tuple[np.ndarray, ...]
    task_memory: dict[str, Any]
    rng: dict[str, Any]


class TaskEnv(gym.Env):
    """Single-step env: validates the action, steps the scene, scores with the task.

    Observations (the key convention shared by sim, real robot, perception and datasets):
    ``obs_mode="state"`` gives the privileged state vector (a Box). Every other mode gives a dict
    with ``"proprio"`` (robot-only), ``"state"`` only if ``privileged_state=True`` (for experts and
    relabelling; a learner fed the whole dict must not see it unasked), and the sensors ``obs_mode`` names
    (``envs/sensors.py``), camera sensors once per camera ``<cam>``: ``"<cam>_rgb"`` (H, W, 3)
    uint8, ``"<cam>_depth"`` (H, W) float32 metres, ``"<cam>_segmentation"`` (H, W) uint8 label ids
    (see ``segmentation_labels``) and ``"<cam>_pointcloud"`` (H * W, 3) float32 world-frame points.
    ``camera_params(cam)`` gives each camera's intrinsics and extrinsics (``envs/cameras.py``).

    Actions are normalized float32 in [-1, 1] (values outside are clipped), or an integer for
    tasks with a discrete action table (``Discrete(n)``), e.g. CartPole.

    ``get_state`` / ``set_state`` snapshot and restore an episode (for planning over the
    simulator); restoring then replaying the same actions reproduces the trajectory exactly.

    Lifecycle, the same on both backends: ``step`` and ``render`` before the first ``reset`` raise
    ``ResetNeededError``; after ``close`` (idempotent) every call raises ``EnvClosedError``.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 20}

    def __init__(
        self,
        task: Task,
        scene: Scene,
        *,
        obs_mode: str = "state",
        privileged_state: bool | None = None,
        render_mode: str | None = None,
        horizon: int = 150,
        image_size: int = 96,
        render_size: int = 256,
        cameras: str | list[str] | tuple[str, ...] | None = None,
        render_camera: str | None = None,
        randomization: dict | Randomization | None = None,
    ) -> None:
        self.sensors = _parse_obs_mode(obs_mode, privileged_state)
        if render_mode is not None:
            _check_choice("render_mode", render_mode, RENDER_MODES)
        horizon = integer("horizon", horizon, 1)
        image_size = integer("image_size", image_size, 1, MAX_IMAGE_SIZE)
        render_size = integer("render_size", render_size, 1, MAX_IMAGE_SIZE)
        self.task, self.scene = task, scene
        self.cameras = _parse_cameras(cameras, scene.cameras)
        self.render_camera = render_camera or self.cameras[0]
        _check_choice("render_camera", self.render_camera, scene.cameras)
        self.obs_mode, self.render_mode = obs_mode, render_mode
        self._layout = _SensorLayout.of(self.sensors)
        self._state_only = self._layout.state_only
        self.horizon, self.image_size, self.render_size = horizon, image_size, render_size
        self.randomization = Randomization.from_dict(randomization)
        self._plain_state = self._state_only and not self.randomization.obs_noise  # fast path
        self.randomization_sample = None  # this episode's draw, when randomization is on
        self.metadata = {**self.metadata, "render_fps": round(1.0 / scene.control_dt)}
        self._survival = bool(task.success_at_horizon)
        self._action_table = task.action_table
        if self._action_table is not None:
            self._action_table = np.asarray(self._action_table, np.float32)
            self.action_space = spaces.Discrete(len(self._action_table))
        else:
            self.action_space = spaces.Box(-1.0, 1.0, (scene.action_dim,), np.float32)
        self.observation_space = self._make_observation_space()
        self._action_shape = (scene.action_dim,)
        self._pending: deque[np.ndarray] = deque()
        self._t = 0
        self._needs_reset, self._closed, self._started = True, False, False

    @property
    def segmentation_labels(self) -> tuple[str, ...]:
        """Names of segmentation ids: id ``i`` >= 1 is ``labels[i - 1]``; 0 is nothing labelled."""
        return self.scene.labels

    def camera_params(self, camera: str) -> CameraParams:
        """Intrinsics (3, 3) and camera-to-world extrinsics (4, 4, OpenCV axes) at ``image_size``."""
        _check_choice("camera", camera, self.scene.cameras)
        return self.scene.camera_params(camera, self.image_size, self.image_size)

    def _make_observation_space(self) -> spaces.Space:
        if self._state_only:
            return SENSORS["state"].space(self)
        items = {s.name: s.space(self) for s in self._layout.vectors}
        for cam in self.cameras:
            items.update({f"{cam}_{s.name}": s.space(self) for s in self._layout.per_camera})
        return spaces.Dict(items)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        """Start an episode from a layout (and perturbation) drawn with the env's seeded generator."""
        self._check_open("reset")
        super().reset(seed=seed)
        layout = self.task.sample_layout(self.np_random)
        if self.randomization.physical:
            self.randomization_sample = self.randomization.sample(
                self.np_random, self.scene.labels, self.scene.nominal_camera_poses())
            self.scene.randomize(self.randomization_sample)
        self.scene.reset(layout)
        self.task.start_episode(layout)
        self._pending = deque(np.zeros(self._action_shape, np.float32)
                              for _ in range(self.randomization.action_latency))
        self._t, self._needs_reset, self._started = 0, False, True
        return self._observe(self.scene.read()), {"is_success": False}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        """Apply one action for ``scene.control_dt`` seconds (``action_latency`` steps late if set)."""
        if self._needs_reset:
            self._check_open("step")
            raise ResetNeededError(
                "step() called on an episode that has ended (or was never reset); "
                "call env.reset() first")
        a = self._check_action(action)
        if self._pending:
            self._pending.append(a)
            a = self._pending.popleft()
        instability = self.scene.step(a)
        self._t += 1
        state = self.scene.read()
        terms = self.task.reward_terms(state, a)
        success, failure = self.task.outcome(state)
        info: dict[str, Any] = {"reward_terms": terms, "is_success": success}
        terminated = success or failure is not None
        truncated = self._t >= self.horizon
        if failure is not None:
            info["failure"] = failure
        elif truncated and self._survival:
            info["is_success"] = success = True  # e.g. CartPole: balanced for the whole horizon
        if instability is not None:
            # Not an MDP terminal state: the episode is cut off and flagged, never continued.
            logger.warning("physics unstable at step %d: %s", self._t, instability)
            info.update(instability=instability, is_success=False)
            terminated, truncated = False, True
        if terminated or truncated:
            self._needs_reset = True
        obs = self.task.state_vector(state) if self._plain_state else self._observe(state)
        return obs, sum(terms.values()), terminated, truncated, info

    def get_state(self) -> EnvState:
        """Snapshot of the episode so far (see :class:`EnvState`)."""
        self._check_open("get_state")
        return EnvState(self.scene.get_state(), self._t, self._needs_reset,
                        tuple(a.copy() for a in self._pending), copy.deepcopy(self.task.memory),
                        copy.deepcopy(self.np_random.bit_generator.state))

    def set_state(self, state: EnvState) -> Any:
        """Continue from ``state`` (from :meth:`get_state` of this env); returns its observation."""
        self._check_open("set_state")
        if not isinstance(state, EnvState):
            raise SnapshotError(f"set_state expects the EnvState from this env's get_state(), got "
                            f"{type(state).__name__}")
        self.scene.set_state(state.scene)
        self._t, self._needs_reset = state.t, state.needs_reset
        self._pending = deque(a.copy() for a in state.pending)
        self.task.memory = copy.deepcopy(state.task_memory)
        self.np_random.bit_generator.state = copy.deepcopy(state.rng)
        obs = self._observe(self.scene.read())
        # Observation noise must not advance the generator: stepping on replays the original.
        self.np_random.bit_generator.state = copy.deepcopy(state.rng)
        return obs

    def _check_action(self, action: Any) -> np.ndarray:
        if self._action_table is not None:
            return self._check_discrete(action)
        a = action if type(action) is np.ndarray else np.asarray(action)
        if a.dtype.kind not in "fiu":  # bools, complex numbers, strings and objects are not actions
            raise InvalidActionError(
                f"action {action!r} has dtype {a.dtype}; expected real numbers, shape "
                f"{self._action_shape} in [-1, 1] (action_space={self.action_space})")
        if a.shape != self._action_shape:
            raise InvalidActionError(
                f"action has shape {a.shape}, expected {self._action_shape} "
                f"(action_space={self.action_space}). Pass one action per step; an agent that "
                "predicts chunks should queue them itself.")
        x = a.tolist()
        total = sum(x)  # NaN if any entry is NaN (or +inf and -inf meet)
        if total == total and -1.0 <= min(x) and max(x) <= 1.0:  # fast path
            return a if a.dtype == np.float32 else a.astype(np.float32)
        if not np.isfinite(a).all():
            raise InvalidActionError(f"action contains NaN or inf: {a}; fix the policy output")
        # Out-of-range actions saturate, as Box bounds imply (clipped before the float32 cast, so
        # a finite 1e39 clips instead of overflowing to inf).
        return np.clip(a, -1.0, 1.0).astype(np.float32)

    def _check_discrete(self, action: Any) -> np.ndarray:
        a = np.asarray(action)
        n = len(self._action_table)
        if a.shape in ((), (1,)) and a.dtype.kind in "iu":
            index = int(a.reshape(-1)[0])
            if 0 <= index < n:
                return self._action_table[index]
        raise InvalidActionError(
            f"action {action!r} is not valid for {self.action_space}: expected one integer in "
            f"[0, {n - 1}] ({', '.join(self.task.action_names)}), as an int, a numpy integer or "
            "an integer array of shape (1,)")

    def add_obs_noise(self, vector: np.ndarray) -> np.ndarray:
        """``vector`` plus this episode's observation noise (``randomization.obs_noise``), if any."""
        noise = self.randomization.obs_noise
        if not noise:
            return vector
        return vector + self.np_random.normal(0.0, noise, vector.shape).astype(np.float32)

    def observe(self, obs_mode: str | None = None, privileged_state: bool | None = None) -> Any:
        """The current scene's observation in ``obs_mode`` (default: the env's own), without stepping.

        For rollouts that need sensors only now and then: an env made with ``obs_mode="state"``
        steps without rendering, and ``observe("rgb+depth+segmentation", privileged_state=True)``
        renders the env's ``cameras`` at the steps that are kept. Observing never changes the
        episode: the generator that draws observation and depth noise is put back afterwards.
        """
        self._check_open("observe")
        if not self._started:
            raise ResetNeededError("observe() before the first reset() has no scene to see; call "
                                   "env.reset() first")
        layout = (self._layout if obs_mode is None else
                  _SensorLayout.of(_parse_obs_mode(obs_mode, privileged_state)))
        rng = copy.deepcopy(self.np_random.bit_generator.state)
        try:
            return self._observe(self.scene.read(), layout)
        finally:
            self.np_random.bit_generator.state = rng

    def _observe(self, state: Any, layout: "_SensorLayout | None" = None) -> Any:
        layout = layout or self._layout
        if layout.state_only:
            return self.add_obs_noise(self.task.state_vector(state))
        obs = {s.name: s.read(self, state, None, {}) for s in layout.vectors}
        s = self.image_size
        for cam in self.cameras:
            images = self.scene.render(cam, s, s, layout.modalities) if layout.modalities else {}
            if "depth" in images and self.randomization.depth_noise:
                noisy = images["depth"] + self.np_random.normal(
                    0.0, self.randomization.depth_noise, images["depth"].shape)
                images["depth"] = np.clip(noisy, 0.0, self.scene.far).astype(np.float32)
            for sensor in layout.per_camera:
                obs[f"{cam}_{sensor.name}"] = sensor.read(self, state, cam, images)
        return obs

    def render(self) -> np.ndarray | None:
        """RGB frame (render_size, render_size, 3) from ``render_camera``, for videos."""
        if self.render_mode is None:
            return None
        self._check_open("render")
        if not self._started:
            raise ResetNeededError("render() before the first reset() has no scene to show; call "
                                   "env.reset() first")
        size = self.render_size
        return self.scene.render(self.render_camera, size, size, ("rgb",))["rgb"]

    def close(self) -> None:
        """Release the scene's renderers and simulator; later calls raise ``EnvClosedError``."""
        if not self._closed:
            self._closed = self._needs_reset = True
            self.scene.close()

    def _check_open(self, call: str) -> None:
        if self._closed:
            raise EnvClosedError(f"{call}() on a closed env; make a new one with gymnasium.make")


def _check_choice(name: str, value: Any, allowed: tuple | list) -> None:
    if value not in allowed:
        raise EnvConfigError(f"{name}={value!r} is not supported; valid choices: {list(allowed)}")


def _parse_obs_mode(obs_mode: str, privileged_state: bool | None) -> list[Sensor]:
    """The sensors an obs_mode names: ``"state"`` alone, or registered sensor names joined by '+'."""
    if privileged_state is not None and not isinstance(privileged_state, bool):
        raise EnvConfigError(f"privileged_state must be True, False or None, got {privileged_state!r}")
    if obs_mode == "state":
        if privileged_state is False:
            raise EnvConfigError("obs_mode='state' is the privileged state itself; with "
                                 "privileged_state=False pick 'proprio' or camera sensors, e.g. 'rgb'")
        return [SENSORS["state"]]
    parts = str(obs_mode).split("+")
    if any(p not in SENSORS or p == "state" for p in parts) or len(set(parts)) != len(parts):
        raise EnvConfigError(
            f"obs_mode={obs_mode!r} is not supported; valid choices: 'state', 'proprio', or "
            f"registered sensors {sorted(set(SENSORS) - {'state', 'proprio'})} joined with '+', "
            "e.g. 'rgb+depth' (envs/sensors.py registers more)")
    vectors = ["state", "proprio"] if privileged_state else ["proprio"]
    return [find_sensor(n) for n in vectors] + [find_sensor(p) for p in parts if p not in vectors]


class _SensorLayout(NamedTuple):
    """An obs_mode's sensors sorted for observing: vector ones, per-camera ones, what to render."""

    state_only: bool  # obs_mode "state": the (noisy) state vector, not a dict
    vectors: tuple[Sensor, ...]
    per_camera: tuple[Sensor, ...]
    modalities: tuple[str, ...]  # the image modalities the scene must render for ``per_camera``

    @classmethod
    def of(cls, sensors: list[Sensor]) -> "_SensorLayout":
        """The layout of ``_parse_obs_mode``'s sensors."""
        per_camera = tuple(s for s in sensors if s.per_camera)
        modalities = tuple(m for m in ("rgb", "depth", "segmentation")
                           if any(m in s.renders for s in per_camera))
        return cls(list(sensors) == [SENSORS["state"]], tuple(s for s in sensors if not s.per_camera),
                   per_camera, modalities)


def _parse_cameras(cameras: Any, available: tuple[str, ...]) -> tuple[str, ...]:
    if cameras is None:
        return available[:1]
    if cameras == "all":
        return tuple(available)
    names = (cameras,) if isinstance(cameras, str) else tuple(cameras)
    for name in names:
        _check_choice("camera", name, available)
    if not names:
        raise EnvConfigError(f"cameras=[] selects no camera; valid choices: {list(available)} "
                             "or 'all'")
    return names


def make_task_env(task: Task, backends: dict[str, str], backend: str = "mujoco",
                  **kwargs: Any) -> TaskEnv:
    """Build a task's env on a backend; options go to the env or the scene, whichever takes them.

    Unknown options are rejected with the list of valid ones for this task and backend.
    """
    cls = scene_class(backends, backend)
    env_options = _parameters(TaskEnv.__init__, skip=("self", "task", "scene"))
    scene_options = _parameters(cls.__init__, skip=("self",))
    unknown = sorted(set(kwargs) - set(env_options) - set(scene_options))
    if unknown:
        valid = ["backend", *env_options, *scene_options]
        raise EnvConfigError(
            f"unknown env option(s) {unknown}; valid options: {valid}"
            + (". Gymnasium's own max_episode_steps is taken by gymnasium.make; roboloop's "
               "episode length is `horizon`" if "max_episode_steps" in unknown else ""))
    scene = cls(**{k: v for k, v in kwargs.items() if k in scene_options})
    try:
        return TaskEnv(task, scene, **{k: v for k, v in kwargs.items() if k in env_options})
    except Exception:
        scene.close()
        raise


def _parameters(fn: Any, skip: tuple[str, ...]) -> list[str]:
    return [p for p in inspect.signature(fn).parameters if p not in skip]

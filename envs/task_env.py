"""A Gymnasium env composed of a backend-neutral Task and a backend-specific Scene."""

import logging
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.contracts import Scene, Task
from envs.errors import EnvConfigError, InvalidActionError, ResetNeededError

logger = logging.getLogger(__name__)

OBS_MODES = ("state", "rgb")
RENDER_MODES = ("rgb_array",)
MAX_IMAGE_SIZE = 640  # the scenes' offscreen framebuffer


class TaskEnv(gym.Env):
    """Single-step env: validates the action, steps the scene, scores with the task.

    Observations: ``obs_mode="state"`` gives the privileged state vector (Box). Image modes give a
    dict with ``"state"`` (privileged, for experts and relabelling), ``"proprio"`` and one
    ``"<camera>_rgb"`` image (H, W, 3) uint8 per camera; learning agents choose their keys.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 20}

    def __init__(
        self,
        task: Task,
        scene: Scene,
        *,
        obs_mode: str = "state",
        render_mode: str | None = None,
        horizon: int = 150,
        image_size: int = 96,
        render_size: int = 256,
        camera: str | None = None,
    ) -> None:
        _check_choice("obs_mode", obs_mode, OBS_MODES)
        if render_mode is not None:
            _check_choice("render_mode", render_mode, RENDER_MODES)
        if horizon < 1:
            raise EnvConfigError(f"horizon must be >= 1 step, got {horizon}")
        for name, size in (("image_size", image_size), ("render_size", render_size)):
            if not 1 <= size <= MAX_IMAGE_SIZE:
                raise EnvConfigError(
                    f"{name} must be in [1, {MAX_IMAGE_SIZE}] pixels (the offscreen buffer), got {size}")
        self.task, self.scene = task, scene
        self.camera = camera or scene.cameras[0]
        _check_choice("camera", self.camera, scene.cameras)
        self.obs_mode, self.render_mode = obs_mode, render_mode
        self._state_only = obs_mode == "state"
        self.horizon, self.image_size, self.render_size = horizon, image_size, render_size
        self.metadata = {**self.metadata, "render_fps": round(1.0 / scene.control_dt)}
        self.action_space = spaces.Box(-1.0, 1.0, (scene.action_dim,), np.float32)
        self.observation_space = self._make_observation_space()
        self._action_shape = (scene.action_dim,)
        self._t = 0
        self._needs_reset = True

    def _make_observation_space(self) -> spaces.Space:
        state = spaces.Box(-np.inf, np.inf, (len(self.task.state_names),), np.float32)
        if self.obs_mode == "state":
            return state
        size = (self.image_size, self.image_size, 3)
        return spaces.Dict({
            "state": state,
            "proprio": spaces.Box(-np.inf, np.inf, (len(self.task.proprio_names),), np.float32),
            f"{self.camera}_rgb": spaces.Box(0, 255, size, np.uint8),
        })

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        """Start an episode from a layout drawn with the env's seeded generator."""
        super().reset(seed=seed)
        self.scene.reset(self.task.sample_layout(self.np_random))
        self._t, self._needs_reset = 0, False
        return self._observe(self.scene.read()), {"is_success": False}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        """Apply one normalized action for ``scene.control_dt`` seconds."""
        if self._needs_reset:
            raise ResetNeededError(
                "step() called on an episode that has ended (or was never reset); "
                "call env.reset() first")
        a = self._check_action(action)
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
        if instability is not None:
            # Not an MDP terminal state: the episode is cut off and flagged, never continued.
            logger.warning("physics unstable at step %d: %s", self._t, instability)
            info.update(instability=instability, is_success=False)
            terminated, truncated = False, True
        if terminated or truncated:
            self._needs_reset = True
        obs = self.task.state_vector(state) if self._state_only else self._observe(state)
        return obs, sum(terms.values()), terminated, truncated, info

    def _check_action(self, action: Any) -> np.ndarray:
        a = np.asarray(action, dtype=np.float32)
        if a.shape != self._action_shape:
            raise InvalidActionError(
                f"action has shape {a.shape}, expected {self._action_shape} "
                f"(action_space={self.action_space}). Pass one action per step; an agent that "
                "predicts chunks should queue them itself.")
        if all(-1.0 <= x <= 1.0 for x in a.tolist()):  # fast path; False for NaN too
            return a
        if not np.isfinite(a).all():
            raise InvalidActionError(f"action contains NaN or inf: {a}; fix the policy output")
        return np.clip(a, -1.0, 1.0)  # out-of-range actions saturate, as Box bounds imply

    def _observe(self, state: Any) -> Any:
        vec = self.task.state_vector(state)
        if self.obs_mode == "state":
            return vec
        size = self.image_size
        return {
            "state": vec,
            "proprio": self.task.proprio_vector(state),
            f"{self.camera}_rgb": self.scene.render(self.camera, size, size),
        }

    def render(self) -> np.ndarray | None:
        """RGB frame (render_size, render_size, 3) from the default camera, for videos."""
        if self.render_mode is None:
            return None
        return self.scene.render(self.camera, self.render_size, self.render_size)

    def close(self) -> None:
        """Release the scene's renderers."""
        self.scene.close()


def _check_choice(name: str, value: Any, allowed: tuple | list) -> None:
    if value not in allowed:
        raise EnvConfigError(f"{name}={value!r} is not supported; valid choices: {list(allowed)}")


def check_kwargs(kwargs: dict[str, Any]) -> None:
    """Reject keyword arguments :class:`TaskEnv` does not take, listing the ones it does."""
    import inspect

    valid = [p for p in inspect.signature(TaskEnv.__init__).parameters if p not in ("self", "task", "scene")]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise EnvConfigError(
            f"unknown env option(s) {unknown}; valid options: ['backend', {', '.join(map(repr, valid))}]"
            + (". Gymnasium's own max_episode_steps is taken by gymnasium.make; roboloop's "
               "episode length is `horizon`" if "max_episode_steps" in unknown else ""))

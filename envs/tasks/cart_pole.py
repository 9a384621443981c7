"""CartPole: keep a pole upright on a cart by pushing the cart left or right (classic semantics).

The classic control problem (Barto, Sutton & Anderson 1983; Gymnasium's CartPole-v1) simulated
by a physics engine: cart 1.0 kg, uniform pole 0.1 kg and 1.0 m long (half-length 0.5 m), 10 N
pushes, 20 ms per step, no friction. Discrete actions: 0 pushes left, 1 pushes right. The episode
fails when the pole leans more than 12 degrees or the cart leaves +-2.4 m; it succeeds by
surviving the horizon (500 steps, as CartPole-v1). Pole angle 0 is upright, positive leans +x.
"""

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from envs.cameras import CameraSpec
from envs.contracts import TaskBase

CART_MASS = 1.0  # kg
POLE_MASS = 0.1  # kg
POLE_HALF_LENGTH = 0.5  # m; the pole's centre of mass is this far above the hinge
FORCE = 10.0  # N at |action| = 1
CONTROL_DT = 0.02  # s per env step: 4 physics steps of 5 ms
ANGLE_LIMIT = math.radians(12.0)
X_LIMIT = 2.4  # m
INIT_RANGE = 0.05  # every state variable starts uniform in [-INIT_RANGE, INIT_RANGE]
HORIZON = 500

LABELS = ("floor", "rail", "cart", "pole")
CAMERAS = (
    CameraSpec("front", eye=(0.0, -6.0, 1.0), target=(0.0, 0.0, 0.6), far=10.0),
    CameraSpec("close", eye=(0.0, -2.5, 0.9), target=(0.0, 0.0, 0.6), far=10.0),
)

BACKENDS = {
    "mujoco": "envs.scenes.mujoco_cart_pole:MujocoCartPoleScene",
    "pybullet": "envs.scenes.pybullet_cart_pole:PybulletCartPoleScene",
}


@dataclass(frozen=True)
class CartPoleLayout:
    """An episode's initial state."""

    cart_x: float
    cart_vx: float
    pole_angle: float
    pole_angular_velocity: float


class CartPoleState(NamedTuple):
    """The classic four state variables, read from a scene each step."""

    cart_x: float
    cart_vx: float
    pole_angle: float
    pole_angular_velocity: float


class CartPoleTask(TaskBase):
    """Classic CartPole: +1 per step while balanced; discrete pushes; survival is success."""

    state_names = ("cart_x", "cart_vx", "pole_angle", "pole_angular_velocity")
    proprio_names = state_names  # a real cart-pole senses all four with its encoders
    action_table = np.array([[-1.0], [1.0]], np.float32)  # normalized cart force per action
    action_names = ("push_left", "push_right")
    success_at_horizon = True

    def sample_layout(self, rng: np.random.Generator) -> CartPoleLayout:
        """Each variable uniform in [-0.05, 0.05], as the classic task."""
        return CartPoleLayout(*(float(v) for v in rng.uniform(-INIT_RANGE, INIT_RANGE, 4)))

    def state_vector(self, s: CartPoleState) -> np.ndarray:
        """(4,) float32: x, x_dot, theta, theta_dot."""
        return np.array(s, dtype=np.float32)

    def proprio_vector(self, s: CartPoleState) -> np.ndarray:
        """(4,) float32: the same four (all measured by encoders on a real cart-pole)."""
        return np.array(s, dtype=np.float32)

    def reward_terms(self, s: CartPoleState, action: np.ndarray) -> dict[str, float]:
        """+1 for every step that ends with the pole still up (including the failing step's check)."""
        return {"alive": 1.0}

    def outcome(self, s: CartPoleState) -> tuple[bool, str | None]:
        """Failure when the pole leans past 12 degrees or the cart leaves the track."""
        if abs(s.pole_angle) > ANGLE_LIMIT:
            return False, "pole_fell"
        if abs(s.cart_x) > X_LIMIT:
            return False, "cart_out_of_bounds"
        return False, None


def make_cart_pole_env(backend: str = "mujoco", **kwargs: Any) -> Any:
    """Entry point of ``roboloop/CartPole-v0``; options go to :class:`TaskEnv` or the scene."""
    from envs.task_env import make_task_env

    return make_task_env(CartPoleTask(), BACKENDS, backend, **{"horizon": HORIZON, **kwargs})

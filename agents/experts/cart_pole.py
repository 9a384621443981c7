"""A bang-bang LQR expert for CartPole: push towards where the linear-quadratic regulator would.

The gains are the discrete-time LQR solution (Q = diag(1, 1, 10, 1), R = 1, dt = 0.02 s) for the
classic dynamics linearized about upright; the sign of the LQR force picks the discrete push.
"""

import numpy as np

from agents.experts.state import privileged_state
from envs.tasks.cart_pole import CartPoleTask

# u = GAINS . (x, x_dot, theta, theta_dot): the LQR force direction (positive = push right).
GAINS = np.array([0.91, 2.14, 30.88, 7.88])
PUSH_LEFT, PUSH_RIGHT = (CartPoleTask.action_names.index(n) for n in ("push_left", "push_right"))


class CartPoleExpert:
    """Acts on the 4-d CartPole state (or a dict holding it under ``"state"``); returns 0 or 1."""

    def reset(self) -> None:
        """Stateless."""

    def act(self, features: np.ndarray | dict[str, np.ndarray]) -> int:
        """The discrete push whose direction matches the LQR force."""
        s = privileged_state(features)
        return PUSH_RIGHT if float(np.dot(GAINS, s)) > 0 else PUSH_LEFT

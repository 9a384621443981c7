"""A smooth, Markov scripted expert for PushCube: orbit to the cube's far side, then push.

In polar coordinates around the cube, with angle ``theta`` measured from the point directly behind
the cube (opposite the goal), the pusher follows one continuous vector field: it turns ``theta``
towards 0 along an orbit wide enough to clear the cube's corners, closes in to the face as
``theta`` shrinks, and pushes towards the goal in proportion to how well it is aligned. The field
is memoryless and continuous everywhere except on the half-line ahead of the cube (theta = +-pi),
where it must pick a side to circle; no phases or mode switches, which a cloned MLP imitates well.
"""

import math

import numpy as np

from agents.experts.state import privileged_state
from envs.tasks.push_cube import CUBE_HALF, GOAL_TOLERANCE, MAX_SPEED, PUSHER_RADIUS, PushCubeTask

CONTACT = CUBE_HALF + PUSHER_RADIUS  # pusher-to-cube centre distance at face contact
ORBIT = CUBE_HALF * math.sqrt(2) + PUSHER_RADIUS + 0.012  # clears the corners when circling
CLOSE_IN = 0.6  # rad: within this angle of "behind" the pusher closes in to the face
PUSH_CONE = 0.35  # rad: pushing effort fades to zero at this misalignment
_IDX = {name: i for i, name in enumerate(PushCubeTask.state_names)}


class PushCubeExpert:
    """Acts on the 14-d PushCube state vector (or a dict holding it under ``"state"``)."""

    def __init__(self, push_speed: float = 0.8 * MAX_SPEED, radial_gain: float = 10.0,
                 angular_gain: float = 5.0, contact: float = CONTACT, orbit: float = ORBIT,
                 tolerance: float = GOAL_TOLERANCE) -> None:
        self.push_speed, self.radial_gain, self.angular_gain = push_speed, radial_gain, angular_gain
        # The pushed object's geometry (other experts push other objects with this field).
        self.contact, self.orbit, self.tolerance = contact, orbit, tolerance

    def reset(self) -> None:
        """Stateless."""

    def act(self, features: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
        """Normalized pusher velocity command (2,) float32."""
        s = privileged_state(features)
        p = (float(s[_IDX["pusher_x"]]), float(s[_IDX["pusher_y"]]))
        c = (float(s[_IDX["cube_x"]]), float(s[_IDX["cube_y"]]))
        g = (float(s[_IDX["goal_x"]]), float(s[_IDX["goal_y"]]))
        vx, vy = self.velocity(p, c, g)
        return np.clip(np.array((vx, vy)) / MAX_SPEED, -1.0, 1.0).astype(np.float32)

    def velocity(self, p: tuple[float, float], c: tuple[float, float],
                 g: tuple[float, float]) -> tuple[float, float]:
        """Pusher velocity (m/s) from pusher, cube (or any pushed object) and goal positions."""
        contact, orbit = self.contact, self.orbit
        dist = math.hypot(g[0] - c[0], g[1] - c[1])
        push_angle = math.atan2(g[1] - c[1], g[0] - c[0])
        r = max(math.hypot(p[0] - c[0], p[1] - c[1]), 1e-6)
        # theta = 0 directly behind the cube; wrapped to [-pi, pi).
        theta = _wrap(math.atan2(p[1] - c[1], p[0] - c[0]) - push_angle - math.pi)
        closeness = min(1.0, abs(theta) / CLOSE_IN) ** 2
        r_target = contact - 0.005 + (orbit - contact + 0.005) * closeness
        v_r = self.radial_gain * (r_target - r)
        v_t = -self.angular_gain * theta * max(r, orbit)
        alignment = max(0.0, 1.0 - abs(theta) / PUSH_CONE)
        speed = alignment * min(self.push_speed, 4.0 * max(dist - 0.5 * self.tolerance, 0.0) + 0.02)
        e_r = ((p[0] - c[0]) / r, (p[1] - c[1]) / r)
        e_t = (-e_r[1], e_r[0])
        u = (math.cos(push_angle), math.sin(push_angle))
        vx = v_r * e_r[0] + v_t * e_t[0] + speed * u[0]
        vy = v_r * e_r[1] + v_t * e_t[1] + speed * u[1]
        norm = math.hypot(vx, vy)
        scale = 1.0 if norm <= MAX_SPEED else MAX_SPEED / norm
        return vx * scale, vy * scale


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi

"""A scripted expert for PushParticles: push the straggler farthest from the goal, towards it.

It pushes one target particle at the goal centre with PushCube's orbit-then-push vector field
(``PushCubeExpert.velocity``, with a puck's contact and orbit radii) until the target is ``INNER``
deep in the goal disk, then takes the particle farthest from the goal centre next. It also switches
when another particle has fallen ``SWITCH`` further behind (hysteresis: retargeting at every step
made it circle between neighbours). The farthest particle lies behind the rest of the group, so
pushing it drives the whole group along.
"""

import numpy as np

from agents.experts.push_cube import PushCubeExpert
from agents.experts.state import privileged_state
from envs.tasks.push_particles import GOAL_RADIUS, MAX_SPEED, N_PARTICLES, PARTICLE_RADIUS, PUSHER_RADIUS

CONTACT = PARTICLE_RADIUS + PUSHER_RADIUS  # pusher-to-puck centre distance at contact
ORBIT = CONTACT + 0.008  # circling distance around the target puck
INNER = GOAL_RADIUS - 0.025  # a puck this close to the goal centre needs no more pushing
SWITCH = 0.04  # retarget when another puck is this much farther from the goal than the target


class PushParticlesExpert:
    """Acts on the PushParticles state vector (6 + 2N,) (or a dict holding it under ``"state"``)."""

    def __init__(self) -> None:
        # Full speed and stiffer gains than PushCube's: 30/30 on seeds 0-29 on each backend; with
        # PushCube's gains it circled too slowly to gather the group in time (6/10 on MuJoCo).
        self.field = PushCubeExpert(push_speed=MAX_SPEED, radial_gain=20.0, angular_gain=12.0,
                                    contact=CONTACT, orbit=ORBIT, tolerance=0.04)
        self.target: int | None = None

    def reset(self) -> None:
        """Forget the target."""
        self.target = None

    def act(self, features: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
        """Normalized pusher velocity command (2,) float32."""
        s = np.asarray(privileged_state(features), np.float64)
        pusher, goal = s[0:2], s[-2:]
        xy = s[4:4 + 2 * N_PARTICLES].reshape(N_PARTICLES, 2)
        d = np.hypot(*(xy - goal).T)
        far = int(d.argmax())
        if d[far] < INNER:
            return np.zeros(2, np.float32)
        if self.target is None or d[self.target] < INNER or d[far] > d[self.target] + SWITCH:
            self.target = far
        target = self.target
        vx, vy = self.field.velocity(tuple(pusher), tuple(xy[target]), tuple(goal))
        return np.clip(np.array((vx, vy)) / MAX_SPEED, -1.0, 1.0).astype(np.float32)

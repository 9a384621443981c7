"""PushParticles: a planar pusher herds a group of small pucks into a goal disk on a table.

Backend-neutral: the layout distribution, observations, reward and success are defined here over
:class:`PushParticlesState`; scenes (``envs/scenes/*_push_particles.py``) only simulate. Units:
metres, seconds; the table spans the xy-plane, centred on the origin. The pusher is PushCube's.

State vector (``6 + 2 N`` entries, N = ``N_PARTICLES``): pusher x, y, vx, vy; then x, y of each
particle in a fixed order (``particle_<i>_x``, ``particle_<i>_y``); then the goal's x, y. Particle
velocities are left out: a 1.2 cm puck on friction 0.5 stops within one 50 ms control step, so the
pushing is quasi-static and positions carry the state. Success: at least ``SUCCESS_FRACTION`` of
the particles' centres inside the goal disk.
"""

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from envs.cameras import CameraSpec
from envs.contracts import TaskBase

# PushCube's pusher, re-exported for the scenes and the expert.
from envs.tasks.push_cube import MAX_SPEED as MAX_SPEED
from envs.tasks.push_cube import PUSHER_RADIUS as PUSHER_RADIUS
from envs.tasks.push_cube import PUSHER_RANGE as PUSHER_RANGE

N_PARTICLES = 12
PARTICLE_RADIUS = 0.012  # pucks: cylinders 2.4 cm across
PARTICLE_HALF_HEIGHT = 0.008
PARTICLE_MASS = 0.01  # kg
FRICTION = 0.5  # sliding friction of every contact pair
GOAL_RADIUS = 0.08  # a particle is in the goal when its centre is this close to the goal centre
SUCCESS_FRACTION = 0.8  # success: at least this fraction of the particles in the goal
CLUSTER_RADIUS = 0.07  # particles start uniform in a disk of this radius (centres)
CLUSTER_SPAWN = 0.1  # the cluster's centre starts uniform in [-CLUSTER_SPAWN, CLUSTER_SPAWN]^2
GOAL_SPAWN = 0.15
GOAL_SEPARATION = 0.16  # goal centre to cluster centre, at least, at spawn
PUSHER_SPAWN = 0.2
PUSHER_CLEARANCE = 0.04  # pusher rim to the cluster's disk, at least, at spawn
MIN_GAP = 0.003  # between two particles' rims at spawn
OUT_OF_REACH = PUSHER_RANGE - 0.02  # a particle beyond this in |x| or |y| cannot be pushed back
HORIZON = 400  # steps of 0.05 s
NEEDED = math.ceil(SUCCESS_FRACTION * N_PARTICLES - 1e-9)  # particles in the goal for success
BEHIND = PARTICLE_RADIUS + PUSHER_RADIUS  # the reach term's target: this far behind the group's rim

LABELS = ("table", "pusher", "particle", "goal")  # segmentation ids 1..4; every particle is "particle"
CAMERAS = (
    CameraSpec("top", eye=(0.0, 0.0, 0.8), target=(0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0)),
    CameraSpec("front", eye=(0.0, -0.6, 0.45), target=(0.0, 0.0, 0.0)),
)

BACKENDS = {
    "mujoco": "envs.scenes.mujoco_push_particles:MujocoPushParticlesScene",
    "pybullet": "envs.scenes.pybullet_push_particles:PybulletPushParticlesScene",
}
_P0 = 4  # index of particle_0_x in the state vector
_G0 = _P0 + 2 * N_PARTICLES  # index of goal_x


@dataclass(frozen=True)
class PushParticlesLayout:
    """An episode's initial configuration: particle centres (N, 2) as a tuple of pairs."""

    pusher_xy: tuple[float, float]
    particles_xy: tuple[tuple[float, float], ...]
    goal_xy: tuple[float, float]


class PushParticlesState(NamedTuple):
    """Task-level state read from a scene each step."""

    pusher_x: float
    pusher_y: float
    pusher_vx: float
    pusher_vy: float
    particles: tuple[float, ...]  # x0, y0, x1, y1, ... (2 N)
    goal_x: float
    goal_y: float


class PushParticlesTask(TaskBase):
    """Initial distribution, observations, reward and success of PushParticles."""

    n_particles = N_PARTICLES
    state_names = ("pusher_x", "pusher_y", "pusher_vx", "pusher_vy",
                   *(f"particle_{i}_{c}" for i in range(N_PARTICLES) for c in "xy"),
                   "goal_x", "goal_y")
    proprio_names = ("pusher_x", "pusher_y", "pusher_vx", "pusher_vy")

    def sample_layout(self, rng: np.random.Generator) -> PushParticlesLayout:
        """A cluster of non-overlapping particles, a goal away from it, a pusher clear of it."""
        centre = rng.uniform(-CLUSTER_SPAWN, CLUSTER_SPAWN, 2)
        particles: list[np.ndarray] = []
        while len(particles) < N_PARTICLES:
            r, a = CLUSTER_RADIUS * math.sqrt(rng.uniform()), rng.uniform(-math.pi, math.pi)
            p = centre + r * np.array((math.cos(a), math.sin(a)))
            if all(np.hypot(*(p - q)) >= 2 * PARTICLE_RADIUS + MIN_GAP for q in particles):
                particles.append(p)
        goal = _sample_away(rng, GOAL_SPAWN, centre, GOAL_SEPARATION)
        pusher = _sample_away(rng, PUSHER_SPAWN, centre,
                              CLUSTER_RADIUS + PARTICLE_RADIUS + PUSHER_RADIUS + PUSHER_CLEARANCE)
        return PushParticlesLayout(tuple(pusher.tolist()), tuple(tuple(p.tolist()) for p in particles),
                                   tuple(goal.tolist()))

    def state_vector(self, s: PushParticlesState) -> np.ndarray:
        """(6 + 2 N,) float32: pusher x, y, vx, vy; particles' x, y; goal x, y."""
        return np.array((s.pusher_x, s.pusher_y, s.pusher_vx, s.pusher_vy, *s.particles,
                         s.goal_x, s.goal_y), dtype=np.float32)

    def proprio_vector(self, s: PushParticlesState) -> np.ndarray:
        """(4,) float32: pusher position and velocity."""
        return np.array((s.pusher_x, s.pusher_y, s.pusher_vx, s.pusher_vy), dtype=np.float32)

    def reward_terms(self, s: PushParticlesState, action: np.ndarray) -> dict[str, float]:
        """Fraction in the goal, mean distance to it, reach behind the stragglers, effort, success bonus."""
        x = np.asarray(self.state_vector(s), np.float64)
        terms = _terms(x, np.asarray(action, np.float64))
        return {name: float(value) for name, value in terms.items()}

    def outcome(self, s: PushParticlesState) -> tuple[bool, str | None]:
        """Success with ``NEEDED`` particles in the goal; failure once too many are out of reach."""
        xy = np.asarray(s.particles, np.float64).reshape(N_PARTICLES, 2)
        inside = int((np.hypot(*(xy - (s.goal_x, s.goal_y)).T) < GOAL_RADIUS).sum())
        if inside >= NEEDED:
            return True, None
        lost = int((np.abs(xy) > OUT_OF_REACH).any(1).sum())
        if lost > N_PARTICLES - NEEDED:
            return False, "particles_out_of_reach"
        return False, None

    def batch_reward(self, states: Any, actions: Any) -> Any:
        """``reward_terms`` summed, over a batch: next states (..., 6 + 2N), actions (..., 2) -> (...).

        Numpy arrays or torch tensors alike (shared operators only; the env layer never imports torch).
        """
        return sum(_terms(states, actions).values())

    def batch_success(self, states: Any) -> Any:
        """``outcome``'s success over a batch of state vectors (..., 6 + 2N) -> bool (...)."""
        return _terms(states, states[..., :2])["success"] > 0


def _terms(states: Any, actions: Any) -> dict[str, Any]:
    """The named reward terms of states (..., Ds) and actions (..., 2), numpy or torch alike.

    ``reach`` leads the pusher behind the group: to the point ``spread + BEHIND`` beyond the
    particles' centre on the far side from the goal, centre and spread (RMS radius) weighted by each
    particle's distance to the goal, so stragglers count most and particles at the goal least.
    Pushing the group moves that point along with it. (Reaching for the stragglers' centre put a
    planning pusher in the middle of the group; reaching behind the farthest particle made every
    push shift the target to another particle, so a planner preferred to wait.)
    """
    xy = states[..., _P0:_G0].reshape(tuple(states.shape[:-1]) + (N_PARTICLES, 2))
    goal = states[..., _G0:_G0 + 2]
    away = xy - goal[..., None, :]  # (..., N, 2)
    d_goal = (away * away).sum(-1) ** 0.5
    weight = (d_goal + 1e-9)[..., None] / (d_goal.sum(-1)[..., None, None] + N_PARTICLES * 1e-9)
    centre = (xy * weight).sum(-2)
    offset = xy - centre[..., None, :]
    spread = ((offset * offset).sum(-1, keepdims=True) * weight).sum(-2) ** 0.5  # (..., 1)
    out = centre - goal
    target = centre + out / ((out * out).sum(-1, keepdims=True) ** 0.5 + 1e-9) * (spread + BEHIND)
    to_target = target - states[..., 0:2]
    inside = (d_goal < GOAL_RADIUS).sum(-1)
    return {
        "in_goal": inside / N_PARTICLES,
        "distance": -10.0 * d_goal.mean(-1),
        "reach": -0.2 * (to_target * to_target).sum(-1) ** 0.5,
        "effort": -0.001 * (actions * actions).sum(-1),
        "success": (inside >= NEEDED) * 5.0,
    }


def _sample_away(rng: np.random.Generator, half: float, avoid: np.ndarray, gap: float) -> np.ndarray:
    """Uniform point in [-half, half]^2 at least ``gap`` from ``avoid``."""
    while True:
        p = rng.uniform(-half, half, 2)
        if np.hypot(*(p - avoid)) >= gap:
            return p


def make_push_particles_env(backend: str = "mujoco", **kwargs: Any) -> Any:
    """Entry point of ``roboloop/PushParticles-v0``; options go to :class:`TaskEnv` or the scene."""
    from envs.task_env import make_task_env

    kwargs.setdefault("horizon", HORIZON)
    return make_task_env(PushParticlesTask(), BACKENDS, backend, **kwargs)

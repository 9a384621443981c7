"""PushT: a planar pusher pushes a T-shaped block onto a T-shaped goal outline on a table.

The Diffusion Policy benchmark's task shape on a table like PushCube's. Backend-neutral: the layout
distribution, observations, reward and success are defined here over :class:`PushTState`; scenes
(``envs/scenes/*_push_t.py``) only simulate. Units: metres, radians, seconds; the table spans the
xy-plane, centred on the origin.

The T is a bar (``BAR`` long x wide) with a stem (``STEM``) below its middle, ``T_HEIGHT`` tall,
welded into one rigid body. Its pose (x, y, yaw) is that of its centroid (= centre of mass, the
density is uniform); at yaw 0 the bar runs along x and the stem points to -y, an upright "T".
Success is the fraction of the goal T's area that the block covers (:func:`coverage`), computed
exactly by clipping rectangles, reaching ``SUCCESS_COVERAGE``.
"""

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from envs.cameras import CameraSpec
from envs.contracts import TaskBase

BAR = (0.12, 0.03)  # the T's top bar: length along its x, width along its y (m)
STEM = (0.03, 0.09)  # the stem under the bar's middle: width along x, length along y (m)
T_HEIGHT = 0.03
T_MASS = 0.1  # kg, uniform density
FRICTION = 0.5  # sliding friction of every contact pair (block-table, pusher-block)
PUSHER_RADIUS = 0.015
PUSHER_RANGE = 0.35  # pusher joint limit: |x|, |y| <= this
MAX_SPEED = 0.25  # pusher speed at |action| = 1, m/s
SUCCESS_COVERAGE = 0.95  # success: the block covers this fraction of the goal's area
GOAL_POSE = (0.0, 0.0, math.pi / 4)  # fixed goal (x, y, yaw), as Diffusion Policy's
BLOCK_SPAWN = 0.15  # block centroid starts uniform in [-BLOCK_SPAWN, BLOCK_SPAWN]^2
PUSHER_SPAWN = 0.25
PUSHER_CLEARANCE = 0.03  # at spawn, the pusher's rim is at least this far from the block
MAX_START_COVERAGE = 0.05  # layouts whose block already covers more of the goal are redrawn
OUT_OF_REACH = 0.25  # block centroid beyond this in |x| or |y| cannot be pushed back: failure
MAX_TILT = math.radians(30.0)  # a block tilted further has tipped over: failure
HORIZON = 400  # steps of 0.05 s
COVERAGE_REUSE = 1e-6  # a block that moved less than this (m, rad) keeps its computed coverage

_BAR_AREA, _STEM_AREA = BAR[0] * BAR[1], STEM[0] * STEM[1]
T_AREA = _BAR_AREA + _STEM_AREA
_BAR_Y = _STEM_AREA * (BAR[1] + STEM[1]) / 2 / T_AREA  # centroid at the origin
# (centre x, centre y, half length x, half length y) in the block frame.
RECTS = ((0.0, _BAR_Y, BAR[0] / 2, BAR[1] / 2),
         (0.0, _BAR_Y - (BAR[1] + STEM[1]) / 2, STEM[0] / 2, STEM[1] / 2))
_RECT_RADII = tuple(math.hypot(hx, hy) for _, _, hx, hy in RECTS)
T_RADIUS = max(math.hypot(abs(cx) + hx, abs(cy) + hy) for cx, cy, hx, hy in RECTS)

LABELS = ("table", "pusher", "block", "goal")  # segmentation ids 1..4; 0 = nothing
CAMERAS = (
    CameraSpec("top", eye=(0.0, 0.0, 0.75), target=(0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0)),
    CameraSpec("front", eye=(0.0, -0.65, 0.5), target=(0.0, 0.0, 0.0)),
)

BACKENDS = {
    "mujoco": "envs.scenes.mujoco_push_t:MujocoPushTScene",
    "pybullet": "envs.scenes.pybullet_push_t:PybulletPushTScene",
}


@dataclass(frozen=True)
class PushTLayout:
    """An episode's initial configuration: poses are (x, y, yaw) of the T's centroid."""

    pusher_xy: tuple[float, float]
    block_pose: tuple[float, float, float]
    goal_pose: tuple[float, float, float]


class PushTState(NamedTuple):
    """Task-level state read from a scene each step."""

    pusher_x: float
    pusher_y: float
    pusher_vx: float
    pusher_vy: float
    block_x: float
    block_y: float
    block_yaw: float
    block_upright: float  # cosine of the block's tilt from the table's normal (1 = flat)
    goal_x: float
    goal_y: float
    goal_yaw: float


class PushTTask(TaskBase):
    """Initial distribution, observations, reward and success of PushT."""

    state_names = (
        "pusher_x", "pusher_y", "pusher_vx", "pusher_vy",
        "block_x", "block_y", "block_cos_yaw", "block_sin_yaw",
        "goal_x", "goal_y", "goal_cos_yaw", "goal_sin_yaw",
        "block_minus_pusher_x", "block_minus_pusher_y", "goal_minus_block_x", "goal_minus_block_y",
        "yaw_error_cos", "yaw_error_sin", "pusher_in_block_x", "pusher_in_block_y",
    )
    proprio_names = ("pusher_x", "pusher_y", "pusher_vx", "pusher_vy")

    def __init__(self) -> None:
        super().__init__()
        # The last coverage computed and the poses it was for: a block at rest (most steps of a
        # random policy) skips the clipping, which costs ~18 us when the T's overlap.
        self._cached: tuple[tuple[float, ...], float] = ((math.inf,) * 6, 0.0)

    def sample_layout(self, rng: np.random.Generator) -> PushTLayout:
        """Uniform block pose away from the goal, pusher uniform and clear of the block."""
        goal = GOAL_POSE
        while True:
            x, y = rng.uniform(-BLOCK_SPAWN, BLOCK_SPAWN, 2).tolist()
            block = (x, y, float(rng.uniform(-math.pi, math.pi)))
            if coverage(block, goal) <= MAX_START_COVERAGE:
                break
        while True:
            pusher = tuple(rng.uniform(-PUSHER_SPAWN, PUSHER_SPAWN, 2).tolist())
            if distance_to_t(pusher, block) >= PUSHER_RADIUS + PUSHER_CLEARANCE:
                return PushTLayout(pusher, block, goal)

    def state_vector(self, s: PushTState) -> np.ndarray:
        """(20,) float32: yaws as cos/sin, relative terms, and the pusher in the block's frame."""
        px, py, vx, vy, bx, by, yaw, _, gx, gy, gyaw = s  # one unpack: attribute reads cost ~40 ns
        c, n = math.cos(yaw), math.sin(yaw)
        dyaw = gyaw - yaw
        rx, ry = px - bx, py - by
        return np.array((
            px, py, vx, vy, bx, by, c, n, gx, gy, math.cos(gyaw), math.sin(gyaw), -rx, -ry,
            gx - bx, gy - by, math.cos(dyaw), math.sin(dyaw), c * rx + n * ry, c * ry - n * rx,
        ), dtype=np.float32)

    def proprio_vector(self, s: PushTState) -> np.ndarray:
        """(4,) float32: pusher position and velocity."""
        return np.array((s.pusher_x, s.pusher_y, s.pusher_vx, s.pusher_vy), dtype=np.float32)

    def coverage(self, s: PushTState) -> float:
        """Fraction of the goal's area the block covers, in [0, 1].

        Reused while the block stays within ``COVERAGE_REUSE`` (m and rad) of the poses it was
        last computed for, which changes it by less than 1e-4.
        """
        (x, y, yaw, gx, gy, gyaw), value = self._cached
        _, _, _, _, bx, by, byaw, _, sgx, sgy, sgyaw = s
        if (abs(bx - x) > COVERAGE_REUSE or abs(by - y) > COVERAGE_REUSE
                or abs(byaw - yaw) > COVERAGE_REUSE or sgx != gx or sgy != gy or sgyaw != gyaw):
            value = coverage((bx, by, byaw), (sgx, sgy, sgyaw))
            self._cached = ((bx, by, byaw, sgx, sgy, sgyaw), value)
        return value

    def reward_terms(self, s: PushTState, action: np.ndarray) -> dict[str, float]:
        """Coverage (dense in [0, 1]) plus shaping towards the goal pose and a success bonus."""
        cov = self.coverage(s)
        px, py, _, _, bx, by, yaw, _, gx, gy, gyaw = s
        yaw_error = abs((gyaw - yaw + math.pi) % (2 * math.pi) - math.pi)
        a0, a1 = action.tolist()
        return {
            "coverage": cov,
            "pose": -2.0 * math.hypot(gx - bx, gy - by) - 0.1 * yaw_error,
            "reach": -0.5 * math.hypot(bx - px, by - py),
            "effort": -0.01 * (a0 * a0 + a1 * a1),
            "success": 5.0 if cov >= SUCCESS_COVERAGE else 0.0,
        }

    def outcome(self, s: PushTState) -> tuple[bool, str | None]:
        """Success at ``SUCCESS_COVERAGE``; failure if the block leaves reach or tips over."""
        if self.coverage(s) >= SUCCESS_COVERAGE:
            return True, None
        if abs(s.block_x) > OUT_OF_REACH or abs(s.block_y) > OUT_OF_REACH:
            return False, "block_out_of_reach"
        if s.block_upright < math.cos(MAX_TILT):
            return False, "block_tipped_over"
        return False, None


def t_rectangles(pose: tuple[float, float, float]) -> list[list[tuple[float, float]]]:
    """The T's two rectangles at ``pose`` as world-frame corner lists (counter-clockwise)."""
    x, y, yaw = pose
    c, s = math.cos(yaw), math.sin(yaw)
    out = []
    for cx, cy, hx, hy in RECTS:
        corners = ((cx - hx, cy - hy), (cx + hx, cy - hy), (cx + hx, cy + hy), (cx - hx, cy + hy))
        out.append([(x + c * u - s * v, y + s * u + c * v) for u, v in corners])
    return out


def coverage(block: tuple[float, float, float], goal: tuple[float, float, float]) -> float:
    """Intersection area of the block's and the goal's T over the T's area, exactly.

    Each T is a union of two non-overlapping rectangles, so the intersection is the sum over the
    four rectangle pairs of convex-polygon intersections (Sutherland-Hodgman clipping of the
    block's rectangle by the goal's, done in the goal rectangle's own frame).
    """
    bx, by, byaw = block
    gx, gy, gyaw = goal
    if (bx - gx) ** 2 + (by - gy) ** 2 >= (2 * T_RADIUS) ** 2:
        return 0.0
    block_rects = t_rectangles(block)
    bc, bs, gc, gs = math.cos(byaw), math.sin(byaw), math.cos(gyaw), math.sin(gyaw)
    area = 0.0
    for (gcx, gcy, ghx, ghy), gr in zip(RECTS, _RECT_RADII, strict=True):
        ox, oy = gx + gc * gcx - gs * gcy, gy + gs * gcx + gc * gcy  # goal rectangle centre
        for (bcx, bcy, _, _), br, corners in zip(RECTS, _RECT_RADII, block_rects, strict=True):
            px, py = bx + bc * bcx - bs * bcy, by + bs * bcx + bc * bcy
            if (px - ox) ** 2 + (py - oy) ** 2 >= (gr + br) ** 2:
                continue
            # Block corners in the goal rectangle's frame, then clipped to [-ghx, ghx] x [-ghy, ghy].
            poly = [(gc * (u - ox) + gs * (v - oy), gc * (v - oy) - gs * (u - ox)) for u, v in corners]
            area += _polygon_area(_clip_to_box(poly, ghx, ghy))
    return min(1.0, area / T_AREA)


def _clip_to_box(poly: list[tuple[float, float]], hx: float, hy: float) -> list[tuple[float, float]]:
    """Sutherland-Hodgman clipping of a convex polygon by the box [-hx, hx] x [-hy, hy]."""
    for axis, sign, limit in ((0, 1.0, hx), (0, -1.0, hx), (1, 1.0, hy), (1, -1.0, hy)):
        if not poly:
            break
        out = []
        prev = poly[-1]
        prev_in = sign * prev[axis] <= limit
        for cur in poly:
            cur_in = sign * cur[axis] <= limit
            if cur_in != prev_in:  # the edge crosses the boundary: keep the crossing point
                t = (sign * limit - prev[axis]) / (cur[axis] - prev[axis])
                out.append((prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])))
            if cur_in:
                out.append(cur)
            prev, prev_in = cur, cur_in
        poly = out
    return poly


def _polygon_area(poly: list[tuple[float, float]]) -> float:
    """Shoelace area of a simple polygon (0 for fewer than 3 vertices)."""
    if len(poly) < 3:
        return 0.0
    total = 0.0
    px, py = poly[-1]
    for x, y in poly:
        total += px * y - x * py
        px, py = x, y
    return abs(total) / 2


def distance_to_t(point: tuple[float, float], pose: tuple[float, float, float]) -> float:
    """Distance from a world point to the T at ``pose`` (0 inside it)."""
    x, y, yaw = pose
    c, s = math.cos(yaw), math.sin(yaw)
    u, v = c * (point[0] - x) + s * (point[1] - y), c * (point[1] - y) - s * (point[0] - x)
    return min(math.hypot(max(abs(u - cx) - hx, 0.0), max(abs(v - cy) - hy, 0.0))
               for cx, cy, hx, hy in RECTS)


def make_push_t_env(backend: str = "mujoco", **kwargs: Any) -> Any:
    """Entry point of ``roboloop/PushT-v0``; options go to :class:`TaskEnv` or the scene."""
    from envs.task_env import make_task_env

    return make_task_env(PushTTask(), BACKENDS, backend, **{"horizon": HORIZON, **kwargs})

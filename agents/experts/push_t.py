"""A planning expert for PushT: pick the push that best reduces the pose error, reach it, push.

Every step the expert re-plans from the state alone. Candidate pushes are contact points along the
T's outline (its 8 faces) times push directions about each face's inward normal. A quasi-static
pushing model (ellipsoidal limit surface, Coulomb friction at the pusher, Lynch & Mason's motion
cone: :func:`quasi_static_twist`) rolls every candidate out over a few centimetres of pusher travel,
and a candidate scores its best reduction of the pose error per distance the pusher must travel
(approach plus push). If the pusher is ready at the winning contact it pushes, slower as the error
shrinks; otherwise it travels to a point just off that contact, around the block when the straight
way is blocked. Replanning every step closes the loop on the model's errors.

Memory, kept small: the current target, which a rival must beat by ``KEEP`` (no dithering between
equal contacts), and a short list of targets under which the error stopped falling (the model was
wrong there, e.g. a contact it expected to stick slipped off a corner), ruled out for a while.
"""

import math

import numpy as np

from agents.experts.state import privileged_state
from envs.tasks.push_t import MAX_SPEED, PUSHER_RADIUS, PUSHER_RANGE, RECTS, T_RADIUS, PushTTask

LIMIT_C = 0.04  # m: torque/force ratio of the block's limit surface (fit to both engines)
PUSH_MU = 0.3  # pusher-block friction the plans assume (0.5 simulated; less is conservative)
ROT_LENGTH = 0.07  # m: a radian of yaw error counts like this much position error
DIRECTIONS = (-0.4, -0.2, 0.0, 0.2, 0.4)  # rad, push directions about a face's inward normal
SPACING = 0.008  # m between candidate contacts along a face
PUSH_STEPS = 12  # model rollout steps; each moves the pusher a third of the error, within:
PUSH_STEP_RANGE = (0.0005, 0.004)  # m
CONVEX_MARGIN = 0.004  # contacts keep this far from the outline's convex corners
CONCAVE_MARGIN = PUSHER_RADIUS + 0.002  # and the pusher's centre this far from concave ones
OVERHEAD = 0.02  # m: fixed cost of a push in the score's denominator
STANDOFF = 0.003  # m between pusher rim and face when the pusher stands ready to push
CLEARANCE = 0.001  # m: straight travel keeps the pusher rim this far from the block
ORBIT_CLEARANCE = 0.01  # m: travel around the block keeps the rim this far from it
AT_CONTACT = 0.003  # m: the pusher is ready within this distance of a contact's ready point
KEEP = 1.25  # a new target must score this many times better than the one being pushed
KEEP_TRAVEL = 2.0  # ... or than the one the pusher is on its way to
TRAVEL_SPEED = 0.9 * MAX_SPEED
PROGRESS = 0.01  # the error must fall by this fraction ...
STALL_STEPS = 30  # ... within this many steps, or the current target is ruled out
TABOO_STEPS, TABOO_SPAN = 100, 0.012  # for this many steps, with contacts this close to it (m)
_IDX = {name: i for i, name in enumerate(PushTTask.state_names)}


def _outline() -> list[tuple[float, float]]:
    """The T's 8 outline vertices in the block frame, counter-clockwise from the stem's bottom."""
    (_, by, bx, bh), (_, sy, sx, sh) = RECTS
    return [(-sx, sy - sh), (sx, sy - sh), (sx, by - bh), (bx, by - bh), (bx, by + bh),
            (-bx, by + bh), (-bx, by - bh), (-sx, by - bh)]


def _faces() -> list[tuple]:
    """Per face of the outline: its geometry and where along it the pusher can push.

    Start vertex, unit tangent (counter-clockwise), inward normal, reachable span (lo, hi) along
    the tangent, and whether the start and end corners are concave.
    """
    verts = [np.array(v) for v in _outline()]
    faces = []
    for i, a in enumerate(verts):
        b, prev, nxt = verts[(i + 1) % 8], verts[i - 1], verts[(i + 2) % 8]
        length = float(np.linalg.norm(b - a))
        t = (b - a) / length
        n = np.array((-t[1], t[0]))  # counter-clockwise outline: the interior is on the left
        concave_a = _cross(a - prev, t) < 0  # the outline turns right at a concave corner
        concave_b = _cross(t, nxt - b) < 0
        lo = CONCAVE_MARGIN if concave_a else CONVEX_MARGIN
        hi = length - (CONCAVE_MARGIN if concave_b else CONVEX_MARGIN)
        faces.append((a, t, n, lo, hi, concave_a, concave_b))
    return faces


def _cross(a: np.ndarray, b: np.ndarray) -> float:
    return float(a[0] * b[1] - a[1] * b[0])


FACES = _faces()


def _candidates() -> dict[str, np.ndarray]:
    """Fixed candidate pushes: face id, position along the face, direction offset, (N,) each."""
    face, along, angle = [], [], []
    for k, (_, _, _, lo, hi, _, _) in enumerate(FACES):
        count = max(1, int((hi - lo) / SPACING) + 1)
        for s in np.linspace(lo, hi, count) if count > 1 else [(lo + hi) / 2]:
            for d in DIRECTIONS:
                face.append(k)
                along.append(s)
                angle.append(d)
    return {"face": np.array(face), "along": np.array(along), "angle": np.array(angle)}


CANDIDATES = _candidates()
_FACE_START = np.array([f[0] for f in FACES])
_FACE_T = np.array([f[1] for f in FACES])
_FACE_N = np.array([f[2] for f in FACES])
_FACE_SPAN = np.array([(f[3], f[4]) for f in FACES])
_FACE_CONCAVE = np.array([(f[5], f[6]) for f in FACES])


def quasi_static_twist(r: np.ndarray, n: np.ndarray, u: np.ndarray, c: float = LIMIT_C,
                       mu: float = PUSH_MU) -> tuple[np.ndarray, np.ndarray]:
    """Block twist and contact slip for a point pusher moving at ``u`` against contact ``r``.

    Block frame (origin at the centroid), all (N, 2): contact points ``r``, inward unit normals
    ``n``, pusher velocities ``u``. Returns the body twist (N, 3) = (vx, vy, omega) and the rate
    (N,) at which the contact slides along the tangent (n_y, -n_x); both zero where the pusher
    moves away from the face. The contact sticks when the force that carries the pusher's velocity
    lies inside the friction cone, else slides with the force on the cone's edge (Lynch & Mason).
    """
    rx, ry, nx, ny, ux, uy = r[:, 0], r[:, 1], n[:, 0], n[:, 1], u[:, 0], u[:, 1]
    c2 = c * c
    m11, m12, m22 = 1 + ry * ry / c2, -rx * ry / c2, 1 + rx * rx / c2  # contact velocity = M f
    det = m11 * m22 - m12 * m12
    fx, fy = (m22 * ux - m12 * uy) / det, (m11 * uy - m12 * ux) / det
    fn, ft = fx * nx + fy * ny, fx * ny - fy * nx
    slide = np.abs(ft) > mu * fn
    s = np.where(ft > 0, mu, -mu)
    ex, ey = nx + s * ny, ny - s * nx  # the friction cone's edge on the slipping side
    un = ux * nx + uy * ny
    k = un / ((m11 * ex + m12 * ey) * nx + (m12 * ex + m22 * ey) * ny)
    push = un > 0
    fx = np.where(push, np.where(slide, k * ex, fx), 0.0)
    fy = np.where(push, np.where(slide, k * ey, fy), 0.0)
    w = (rx * fy - ry * fx) / c2
    slip = (ux - (fx - w * ry)) * ny - (uy - (fy + w * rx)) * nx
    return np.stack((fx, fy, w), axis=1), np.where(push, slip, 0.0)


def pose_error(pose: np.ndarray, goal: tuple[float, float, float]) -> np.ndarray:
    """Error (m) of block poses (..., 3) from the goal: position, and yaw as ``ROT_LENGTH`` m/rad."""
    dx, dy = pose[..., 0] - goal[0], pose[..., 1] - goal[1]
    rot = 2.0 * (1.0 - np.cos(pose[..., 2] - goal[2]))
    return np.sqrt(dx * dx + dy * dy + ROT_LENGTH * ROT_LENGTH * rot)


def rollout_pushes(pose: tuple[float, float, float], face: np.ndarray, along: np.ndarray,
                   u: np.ndarray, goal: tuple[float, float, float], step: float) -> np.ndarray:
    """Pose error after each model step of candidate pushes, (N, ``PUSH_STEPS``).

    Candidate i pushes on face ``face[i]`` at ``along[i]`` from its start, the pusher moving
    ``step`` metres per step along ``u[i]`` (block frame). A push whose contact slides off its
    face past a convex corner within the rollout is ruled out (all errors inf): it would lose the
    block. At a concave corner the pusher wedges in and the contact stays there.
    """
    n, t = _FACE_N[face], _FACE_T[face]
    lo, hi = _FACE_SPAN[face, 0], _FACE_SPAN[face, 1]
    lo_open = np.where(_FACE_CONCAVE[face, 0], -np.inf, lo - 1e-9)
    hi_open = np.where(_FACE_CONCAVE[face, 1], np.inf, hi + 1e-9)
    state = np.tile(np.asarray(pose, float), (len(face), 1))
    s = along.astype(float).copy()
    alive = np.ones(len(face), bool)
    errors = np.empty((len(face), PUSH_STEPS))
    for i in range(PUSH_STEPS):
        r = _FACE_START[face] + s[:, None] * t
        twist, slip = quasi_static_twist(r, n, u)
        yaw = state[:, 2] + 0.5 * step * twist[:, 2]  # midpoint heading
        c, sn = np.cos(yaw), np.sin(yaw)
        state[:, 0] += step * (c * twist[:, 0] - sn * twist[:, 1])
        state[:, 1] += step * (sn * twist[:, 0] + c * twist[:, 1])
        state[:, 2] += step * twist[:, 2]
        s += step * slip
        alive &= (s >= lo_open) & (s <= hi_open)
        s = np.clip(s, lo, hi)
        errors[:, i] = pose_error(state, goal)
    errors[~alive] = np.inf
    return errors


def _segment_blocked(q: np.ndarray, targets: np.ndarray, inflate: float) -> np.ndarray:
    """Whether segments q -> targets[i] (block frame) cross either rectangle grown by ``inflate``."""
    blocked = np.zeros(len(targets), bool)
    d = targets - q
    for cx, cy, hx, hy in RECTS:
        t0, t1 = np.zeros(len(targets)), np.ones(len(targets))
        for axis, centre, half in ((0, cx, hx + inflate), (1, cy, hy + inflate)):
            lo, hi = centre - half - q[axis], centre + half - q[axis]
            da = d[:, axis]
            with np.errstate(divide="ignore", invalid="ignore"):
                a, b = lo / da, hi / da
            near, far = np.minimum(a, b), np.maximum(a, b)
            flat = np.abs(da) < 1e-12  # parallel to the slab: inside it or never
            inside = (lo <= 0) & (hi >= 0)
            near = np.where(flat, np.where(inside, -np.inf, np.inf), near)
            far = np.where(flat, np.where(inside, np.inf, -np.inf), far)
            t0, t1 = np.maximum(t0, near), np.minimum(t1, far)
        blocked |= t0 <= t1
    return blocked


def _orbit_radii(inflate: float, count: int = 360) -> np.ndarray:
    """Per direction from the centroid, the farthest distance at which the grown T still lies."""
    angles = 2 * math.pi * np.arange(count) / count
    radii = np.linspace(0.0, T_RADIUS + inflate, 200)
    pts = np.stack((np.cos(angles)[:, None] * radii, np.sin(angles)[:, None] * radii), axis=-1)
    inside = np.zeros(pts.shape[:2], bool)
    for cx, cy, hx, hy in RECTS:
        gx = np.maximum(np.abs(pts[..., 0] - cx) - hx, 0.0)
        gy = np.maximum(np.abs(pts[..., 1] - cy) - hy, 0.0)
        inside |= np.hypot(gx, gy) < inflate
    last = radii.size - 1 - np.argmax(inside[:, ::-1], axis=1)
    return radii[last]


ORBIT = _orbit_radii(PUSHER_RADIUS + ORBIT_CLEARANCE)


def _distance_to_t(q: np.ndarray) -> tuple[float, np.ndarray]:
    """Distance from a block-frame point to the T and the outward direction to it."""
    best, direction = math.inf, np.zeros(2)
    for cx, cy, hx, hy in RECTS:
        gx, gy = abs(q[0] - cx) - hx, abs(q[1] - cy) - hy
        dist = math.hypot(max(gx, 0.0), max(gy, 0.0)) if max(gx, gy) > 0 else max(gx, gy)
        if dist < best:
            vx = math.copysign(max(gx, 0.0), q[0] - cx) if gx > 0 or gx >= gy else 0.0
            vy = math.copysign(max(gy, 0.0), q[1] - cy) if gy > 0 or gy > gx else 0.0
            if gx <= 0 and gy <= 0:  # inside: leave through the nearest side
                vx, vy = ((math.copysign(1.0, q[0] - cx), 0.0) if gx > gy
                          else (0.0, math.copysign(1.0, q[1] - cy)))
            norm = math.hypot(vx, vy) or 1.0
            best, direction = dist, np.array((vx / norm, vy / norm))
    return best, direction


class PushTExpert:
    """Acts on the 20-d PushT state vector (or a dict holding it under ``"state"``)."""

    def __init__(self, push_gain: float = 2.5, min_push_speed: float = 0.015,
                 max_push_speed: float = 0.15) -> None:
        self.push_gain, self.min_push_speed, self.max_push_speed = (
            push_gain, min_push_speed, max_push_speed)
        self.reset()

    def reset(self) -> None:
        """Forget the current target and the pushes that stalled."""
        self._target: tuple[int, float, float] | None = None  # (face, along, angle)
        self._pushing = False
        self._t, self._best, self._stalled = 0, math.inf, 0
        self._taboo: list[tuple[int, float, float, int]] = []  # (face, along, angle, until step)

    def act(self, features: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
        """Normalized pusher velocity command (2,) float32."""
        s = privileged_state(features)
        s = [float(v) for v in s]
        yaw = math.atan2(s[_IDX["block_sin_yaw"]], s[_IDX["block_cos_yaw"]])
        block = (s[_IDX["block_x"]], s[_IDX["block_y"]], yaw)
        goal = (s[_IDX["goal_x"]], s[_IDX["goal_y"]],
                math.atan2(s[_IDX["goal_sin_yaw"]], s[_IDX["goal_cos_yaw"]]))
        q = np.array((s[_IDX["pusher_in_block_x"]], s[_IDX["pusher_in_block_y"]]))
        self._watch_progress(float(pose_error(np.array(block), goal)))
        v = self.velocity(block, goal, q)
        c, n = math.cos(yaw), math.sin(yaw)
        world = np.array((c * v[0] - n * v[1], n * v[0] + c * v[1])) / MAX_SPEED
        norm = float(np.abs(world).max())
        return (world / max(norm, 1.0)).astype(np.float32)

    def _watch_progress(self, error: float) -> None:
        """Rule out, for a while, a target under which the error has stopped falling.

        The model is only approximate (e.g. a contact it expects to stick may slip off a corner);
        without this a wrong prediction can repeat until the episode ends.
        """
        self._t += 1
        self._taboo = [entry for entry in self._taboo if entry[3] > self._t]
        if error < self._best - max(PROGRESS * self._best, 2e-4):
            self._best, self._stalled = error, 0
            return
        self._stalled += 1
        if self._stalled >= STALL_STEPS and self._target is not None:
            self._taboo.append((*self._target, self._t + TABOO_STEPS))
            self._best, self._stalled = error, 0

    def velocity(self, block: tuple[float, float, float], goal: tuple[float, float, float],
                 q: np.ndarray) -> np.ndarray:
        """Pusher velocity (m/s, block frame) for block and goal poses and the pusher at ``q``.

        ``q`` is the pusher's position in the block frame.
        """
        face, along, angle = self._plan(block, goal, q)
        n, t = _FACE_N[face], _FACE_T[face]
        r = _FACE_START[face] + along * t
        ready = r - (PUSHER_RADIUS + STANDOFF) * n
        offset = q - ready
        normal_gap = -float(offset @ n)  # > 0: farther out than the ready point
        slid = float(offset @ t)
        self._pushing = abs(slid) < SPACING and -STANDOFF - 0.002 < normal_gap < AT_CONTACT
        if self._pushing:
            self._target = (face, along + slid, angle)  # the contact may slide along its face
            error = float(pose_error(np.array(block), goal))
            speed = min(max(self.push_gain * error, self.min_push_speed), self.max_push_speed)
            return speed * (math.cos(angle) * n + math.sin(angle) * t)
        return _travel(q, ready)

    def _plan(self, block: tuple[float, float, float], goal: tuple[float, float, float],
              q: np.ndarray) -> tuple[int, float, float]:
        """The best (face, along, angle) push for this state, keeping the current one unless beaten."""
        face, along, angle = _with_current_contact(q)
        n, t = _FACE_N[face], _FACE_T[face]
        u = np.cos(angle)[:, None] * n + np.sin(angle)[:, None] * t
        error = float(pose_error(np.array(block), goal))
        step = min(max(error / 3, PUSH_STEP_RANGE[0]), PUSH_STEP_RANGE[1])
        errors = rollout_pushes(block, face, along, u, goal, step)
        ready = _FACE_START[face] + along[:, None] * t - (PUSHER_RADIUS + STANDOFF) * n
        travel = _travel_distance(q, ready)
        c, s = math.cos(block[2]), math.sin(block[2])
        wx = block[0] + c * ready[:, 0] - s * ready[:, 1]
        wy = block[1] + s * ready[:, 0] + c * ready[:, 1]
        reachable = (np.abs(wx) < PUSHER_RANGE - 0.003) & (np.abs(wy) < PUSHER_RANGE - 0.003)
        pushed = step * np.arange(1, PUSH_STEPS + 1)
        gain = error - errors
        score = np.max(gain / (travel[:, None] + pushed + OVERHEAD), axis=1)
        score = np.where(reachable, score, -np.inf)
        for f0, s0, a0, _ in self._taboo:
            banned = (face == f0) & (np.abs(along - s0) < TABOO_SPAN) & (np.abs(angle - a0) < 0.3)
            score = np.where(banned, -np.inf, score)
        if self._target is not None:
            f0, s0, a0 = self._target
            same = (face == f0) & (np.abs(along - s0) <= SPACING) & (np.abs(angle - a0) < 0.2)
            keep = KEEP if self._pushing else KEEP_TRAVEL
            score = np.where(same & (score > 0), score * keep, score)
        best = int(np.argmax(score))
        self._target = (int(face[best]), float(along[best]), float(angle[best]))
        return self._target


def _with_current_contact(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fixed candidates plus, when the pusher touches a face, pushes from exactly there."""
    face, along, angle = CANDIDATES["face"], CANDIDATES["along"], CANDIDATES["angle"]
    rel = q - _FACE_START
    s = np.einsum("ij,ij->i", rel, _FACE_T)
    depth = np.einsum("ij,ij->i", rel, _FACE_N)  # < 0 outside the face
    touching = ((s >= _FACE_SPAN[:, 0] - AT_CONTACT) & (s <= _FACE_SPAN[:, 1] + AT_CONTACT)
                & (depth > -(PUSHER_RADIUS + STANDOFF + 0.002)) & (depth < 0))
    extra = np.flatnonzero(touching)
    if extra.size:
        s = np.clip(s, _FACE_SPAN[:, 0], _FACE_SPAN[:, 1])
        k = len(DIRECTIONS)
        face = np.concatenate((face, np.repeat(extra, k)))
        along = np.concatenate((along, np.repeat(s[extra], k)))
        angle = np.concatenate((angle, np.tile(DIRECTIONS, extra.size)))
    return face, along, angle


def _travel_distance(q: np.ndarray, ready: np.ndarray) -> np.ndarray:
    """Estimated pusher path length to each ready point: straight, or out, around and back in."""
    straight = np.linalg.norm(ready - q, axis=1)
    # A pusher already closer than the clearance (pushing) only must not go deeper.
    inflate = min(PUSHER_RADIUS + CLEARANCE, _distance_to_t(q)[0] - 0.0005)
    blocked = _segment_blocked(q, ready, inflate)
    radius = float(ORBIT.max())
    turn = np.abs(_wrap(np.arctan2(ready[:, 1], ready[:, 0]) - math.atan2(q[1], q[0])))
    around = (max(radius - math.hypot(*q), 0.0) + radius * turn
              + np.maximum(radius - np.linalg.norm(ready, axis=1), 0.0))
    return np.where(blocked, np.maximum(around, straight), straight)


def _travel(q: np.ndarray, ready: np.ndarray) -> np.ndarray:
    """Velocity (block frame) towards a ready point without touching the block."""
    dist, outward = _distance_to_t(q)
    if dist < PUSHER_RADIUS + CLEARANCE:  # touching something else: back off first
        return 0.1 * outward
    if not _segment_blocked(q, ready[None], PUSHER_RADIUS + CLEARANCE)[0]:
        step = ready - q
        gap = float(np.linalg.norm(step))
        return step / max(gap, 1e-9) * min(TRAVEL_SPEED, 8.0 * gap)
    phi = math.atan2(q[1], q[0])
    turn = 1.0 if _wrap(math.atan2(ready[1], ready[0]) - phi) > 0 else -1.0
    ahead = (phi + turn * np.linspace(0.0, 0.6, 8)) % (2 * math.pi)
    radius = float(ORBIT[(ahead / (2 * math.pi) * ORBIT.size).astype(int) % ORBIT.size].max()) + 0.003
    r = max(math.hypot(*q), 1e-6)
    e_r = q / r
    e_t = turn * np.array((-e_r[1], e_r[0]))
    v = TRAVEL_SPEED * e_t + 8.0 * (radius - r) * e_r
    return v * min(1.0, TRAVEL_SPEED / float(np.linalg.norm(v)))


def _wrap(angle: np.ndarray | float) -> np.ndarray | float:
    return (angle + math.pi) % (2 * math.pi) - math.pi

"""Backend-neutral cameras: one spec per camera, pinhole intrinsics, extrinsics and back-projection.

Conventions (shared by every backend, the real-robot adapter and perception):

- **Extrinsics** are the camera-to-world transform ``T_world_cam`` (4, 4) in the OpenCV camera
  frame: x right, y down, z forward (along the optical axis). A point ``p_cam`` maps to the world
  as ``T[:3, :3] @ p_cam + T[:3, 3]``.
- **Intrinsics** ``K`` (3, 3) follow OpenCV: ``u = fx * x / z + cx``, ``v = fy * y / z + cy``, with
  pixel ``(u, v) = (col + 0.5, row + 0.5)`` at a pixel's centre. Pixels are square; ``fovy`` is
  the vertical field of view.
- **Depth** is z-depth in metres (distance along the optical axis, not along the ray); pixels that
  see nothing read ``far``.
- **Point clouds** are (H * W, 3) float32 in the world frame, row-major over the image, so point
  ``i`` belongs to pixel ``(i // W, i % W)`` of the same camera's rgb/segmentation images.
"""

import math
from dataclasses import dataclass

import numpy as np

from envs.errors import EnvConfigError

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class CameraSpec:
    """Where a camera sits and what it sees; backends build their cameras from this."""

    name: str
    eye: Vec3  # camera position, world frame, metres
    target: Vec3  # a point on the optical axis
    up: Vec3 = (0.0, 0.0, 1.0)  # world direction that appears upwards in the image
    fovy: float = 45.0  # vertical field of view, degrees
    near: float = 0.05  # clipping planes, metres
    far: float = 3.0

    def pose(self) -> np.ndarray:
        """Nominal camera-to-world transform (4, 4), OpenCV axes."""
        return look_at(self.eye, self.target, self.up)


@dataclass(frozen=True)
class CameraParams:
    """What a consumer needs to turn a camera's pixels into world geometry."""

    intrinsics: np.ndarray  # K (3, 3)
    extrinsics: np.ndarray  # T_world_cam (4, 4), OpenCV axes
    width: int
    height: int
    near: float
    far: float


def look_at(eye: Vec3, target: Vec3, up: Vec3) -> np.ndarray:
    """Camera-to-world (4, 4) for a camera at ``eye`` looking at ``target``; OpenCV axes."""
    eye_, forward = np.asarray(eye, float), np.asarray(target, float) - np.asarray(eye, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, float))
    if np.linalg.norm(right) < 1e-9:
        raise EnvConfigError(f"camera up {up} is parallel to its viewing direction {forward}; "
                         "pick an up vector that is not")
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, down, forward], axis=1)
    pose[:3, 3] = eye_
    return pose


def intrinsics(fovy_deg: float, width: int, height: int) -> np.ndarray:
    """Pinhole K (3, 3) for square pixels and a centred principal point."""
    f = 0.5 * height / math.tan(math.radians(fovy_deg) / 2)
    return np.array([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]])


def depth_to_pointcloud(depth: np.ndarray, K: np.ndarray, T_world_cam: np.ndarray) -> np.ndarray:
    """Back-project z-depth (H, W) metres through K into world points (H * W, 3) float32."""
    h, w = depth.shape
    K = np.asarray(K, np.float32)
    u = (np.arange(w, dtype=np.float32) + np.float32(0.5) - K[0, 2]) / K[0, 0]
    v = (np.arange(h, dtype=np.float32) + np.float32(0.5) - K[1, 2]) / K[1, 1]
    z = depth.astype(np.float32)
    cam = np.stack([u[None, :] * z, v[:, None] * z, z], axis=-1).reshape(-1, 3)
    R, t = T_world_cam[:3, :3].astype(np.float32), T_world_cam[:3, 3].astype(np.float32)
    return cam @ R.T + t


def mujoco_camera_xml(spec: CameraSpec) -> str:
    """A ``<camera>`` element (world-attached) placing ``spec`` in an MJCF worldbody.

    MuJoCo cameras look along their -z with y up, so its x/y axes are OpenCV's x and -y.
    """
    R = spec.pose()[:3, :3]
    xy = (*R[:, 0], *(-R[:, 1]))
    return (f'<camera name="{spec.name}" pos="{_fmt(spec.eye)}" xyaxes="{_fmt(xy)}" '
            f'fovy="{spec.fovy:g}"/>')


def opengl_view_matrix(T_world_cam: np.ndarray) -> list[float]:
    """World-to-camera in OpenGL axes (x right, y up, looking down -z), column-major 16 floats."""
    cv_to_gl = np.diag([1.0, -1.0, -1.0, 1.0])
    view = cv_to_gl @ np.linalg.inv(T_world_cam)
    return view.T.reshape(-1).tolist()


def opengl_projection_matrix(fovy_deg: float, aspect: float, near: float, far: float) -> list[float]:
    """Perspective projection matching :func:`intrinsics`, column-major 16 floats."""
    f = 1.0 / math.tan(math.radians(fovy_deg) / 2)
    proj = np.array([
        [f / aspect, 0, 0, 0],
        [0, f, 0, 0],
        [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)],
        [0, 0, -1, 0],
    ])
    return proj.T.reshape(-1).tolist()


def linearize_depth(zbuffer: np.ndarray, near: float, far: float) -> np.ndarray:
    """OpenGL [0, 1] depth buffer to z-depth in metres."""
    return (far * near / (far - (far - near) * zbuffer)).astype(np.float32)


def perturb_pose(pose: np.ndarray, rng: np.random.Generator, position_std: float,
                 angle_std_deg: float) -> np.ndarray:
    """A pose jittered by Gaussian translation (m) and a rotation about a random axis (deg)."""
    out = pose.copy()
    out[:3, 3] += rng.normal(0.0, position_std, 3) if position_std else 0.0
    if angle_std_deg:
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        angle = math.radians(rng.normal(0.0, angle_std_deg))
        k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        rot = np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k
        out[:3, :3] = rot @ pose[:3, :3]
    return out


def _fmt(values) -> str:
    return " ".join(f"{float(v):.6g}" for v in values)

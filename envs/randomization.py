"""Domain randomization and sim-to-real knobs: one typed config, sampled once per episode.

Everything is off by default. The sample is drawn from the env's seeded generator by backend-neutral
code, so a seed gives the same perturbation on MuJoCo and PyBullet; scenes only apply it
(``Scene.randomize``). Observation noise and action latency are applied by the env itself.
"""

from dataclasses import dataclass, field, fields

import numpy as np

from envs.cameras import perturb_pose
from envs.errors import EnvConfigError
from envs.options import integer, real

Range = tuple[float, float]

# Multiplier ranges must stay inside these bounds, magnitudes in [0, bound]: wider is no longer a
# perturbation of the same task but another (or a broken) simulation.
_MULTIPLIER_BOUNDS = {"friction": (0.05, 20.0), "mass": (0.05, 20.0), "damping": (0.05, 20.0),
                      "light": (0.05, 5.0)}
_MAGNITUDE_BOUNDS = {"colour": 1.0, "texture": 1.0, "camera_position": 0.2, "camera_angle": 45.0,
                     "obs_noise": 1.0, "depth_noise": 1.0}


@dataclass(frozen=True)
class Randomization:
    """Per-episode perturbation ranges; the defaults leave the simulation nominal."""

    friction: Range = (1.0, 1.0)  # multiplier on every contact's sliding friction
    mass: Range = (1.0, 1.0)  # multiplier on each object's mass, one draw per object
    damping: Range = (1.0, 1.0)  # multiplier on every joint's damping
    colour: float = 0.0  # max absolute offset added to each object's RGB (0-1 scale), per object
    texture: float = 0.0  # max offset of the table/floor surface tint (its texture's colour)
    light: Range = (1.0, 1.0)  # multiplier on light intensity
    camera_position: float = 0.0  # std of camera position jitter, metres
    camera_angle: float = 0.0  # std of camera rotation jitter about a random axis, degrees
    obs_noise: float = 0.0  # std of Gaussian noise on the state and proprio vectors
    depth_noise: float = 0.0  # std of Gaussian noise on depth images, metres
    action_latency: int = 0  # the env applies the action chosen k control steps ago

    def __post_init__(self) -> None:
        """Refuse values outside what a simulation can stand (mass x 1e-9 is not a perturbation)."""
        for name, (low, high) in _MULTIPLIER_BOUNDS.items():
            value = getattr(self, name)
            if not isinstance(value, tuple | list) or len(value) != 2:
                raise EnvConfigError(f"randomization.{name} must be a (low, high) range, got {value!r}")
            lo, hi = (real(f"randomization.{name}", v, low, high) for v in value)
            if lo > hi:
                raise EnvConfigError(f"randomization.{name}=({lo}, {hi}): low must be <= high; "
                                     "use (1.0, 1.0) to turn it off")
        for name, high in _MAGNITUDE_BOUNDS.items():
            real(f"randomization.{name}", getattr(self, name), 0.0, high)
        integer("randomization.action_latency", self.action_latency, 0, 10)
    @classmethod
    def from_dict(cls, values: "dict | Randomization | None") -> "Randomization":
        """Build from a plain dict (e.g. a Hydra config), listing valid keys on a typo."""
        if values is None:
            return cls()
        if isinstance(values, cls):
            return values
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(valid))
        if unknown:
            raise EnvConfigError(f"unknown randomization option(s) {unknown}; valid options: {valid}")
        # Ranges may come as lists or Hydra ListConfigs: any non-string sequence becomes a tuple.
        return cls(**{k: tuple(v) if hasattr(v, "__len__") and not isinstance(v, str) else v
                      for k, v in values.items()})

    @property
    def physical(self) -> bool:
        """True when the scene has anything to change (physics, appearance or cameras)."""
        return any(getattr(self, n) != getattr(NOMINAL, n) for n in _SCENE_FIELDS)

    def sample(self, rng: np.random.Generator, labels: tuple[str, ...],
               camera_poses: dict[str, np.ndarray]) -> "EpisodeRandomization":
        """Draw one episode's perturbation; the draw order is fixed, so it is seed-reproducible."""
        return EpisodeRandomization(
            friction=float(rng.uniform(*self.friction)),
            mass={label: float(rng.uniform(*self.mass)) for label in labels},
            damping=float(rng.uniform(*self.damping)),
            colour={label: rng.uniform(-self.colour, self.colour, 3) for label in labels},
            texture=rng.uniform(-self.texture, self.texture, (2, 3)),
            light=float(rng.uniform(*self.light)),
            camera_poses={name: perturb_pose(pose, rng, self.camera_position, self.camera_angle)
                          for name, pose in camera_poses.items()},
        )


NOMINAL = Randomization()
SURFACES = ("table", "floor")  # labels whose texture (tint) the ``texture`` knob varies
_SCENE_FIELDS = ("friction", "mass", "damping", "colour", "texture", "light", "camera_position",
                 "camera_angle")


@dataclass
class EpisodeRandomization:
    """One episode's draw; scenes apply it relative to their nominal model."""

    friction: float = 1.0
    mass: dict[str, float] = field(default_factory=dict)  # label -> multiplier
    damping: float = 1.0
    colour: dict[str, np.ndarray] = field(default_factory=dict)  # label -> RGB offset (3,)
    texture: np.ndarray = field(default_factory=lambda: np.zeros((2, 3)))  # checker colour offsets
    light: float = 1.0
    camera_poses: dict[str, np.ndarray] = field(default_factory=dict)  # name -> T_world_cam (4, 4)

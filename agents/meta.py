"""What a trained agent's checkpoint says about it, beside its weights."""

from dataclasses import asdict, dataclass, field
from typing import Any

from agents.spaces import space_from_dict
from envs.errors import ConfigError

TRAINING_KINDS = ("offline", "online", "interactive")  # from a dataset, from an env, from both


@dataclass(frozen=True)
class AgentMeta:
    """Typed provenance of a trained agent.

    Enough to rebuild its env and perception and to keep evaluation off its training seeds.
    Plain values only, so checkpoints load with ``torch.load(weights_only=True)``.
    """

    method: str  # registered method name, e.g. "bc"
    env_id: str
    env_kwargs: dict[str, Any]
    observation_space: dict[str, Any]  # the env's, as agents.spaces.space_to_dict writes it
    action_space: dict[str, Any]
    perception: dict[str, Any]  # {"name", "config"}: rebuilt by perception.make_perception
    training: str  # "offline" (a dataset), "online" (an env), "interactive" (both: DAgger)
    train_seeds: list[tuple[int, int]]  # [start, stop) ranges of every env seed training saw
    dataset: str | None = None  # the dataset's folder, for offline and interactive methods
    extra: dict[str, Any] = field(default_factory=dict)  # method facts (frames, env steps, ...)

    def __post_init__(self) -> None:
        """Check the training kind so a bad checkpoint fails when read, not when used."""
        if self.training not in TRAINING_KINDS:
            raise ConfigError(f"training must be one of {TRAINING_KINDS}, got {self.training!r}")

    @property
    def action_space_obj(self) -> Any:
        """The action space as a Gymnasium space."""
        return space_from_dict(self.action_space)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the checkpoint."""
        out = asdict(self)
        out["train_seeds"] = [list(r) for r in self.train_seeds]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AgentMeta":
        """Inverse of :meth:`to_dict`."""
        return cls(**{**data, "train_seeds": [tuple(r) for r in data["train_seeds"]]})

"""Human-gated driving (HG-DAgger, Kelly et al. 2019): the learner drives until a supervisor takes over.

Each step the learner proposes an action; the supervisor sees the raw observation and that
proposal and either lets it pass (``None``) or returns its own action, which is executed and
becomes the step's label. Only those intervened steps are labels: a recorder stores them and
drops the rest. A person at a keyboard, a teleoperation program, or a scripted expert that steps
in when the learner strays all serve as supervisors.
"""

from typing import Protocol, runtime_checkable

import numpy as np

from envs.errors import ConfigError
from loop.protocols import Agent, Features, Perception


@runtime_checkable
class Supervisor(Protocol):
    """Decides, step by step, whether to take over from the learner."""

    def reset(self) -> None:
        """Start of an episode."""

    def intervene(self, obs: Features, proposed: np.ndarray) -> np.ndarray | None:
        """The action to execute instead of ``proposed``, or None to let the learner act."""


class Intervened:
    """An Agent: ``driver`` acts unless ``supervisor`` intervenes; intervened steps are labels.

    ``label`` is this step's supervisor action, or None when the learner drove; ``labels`` counts
    intervened steps and ``interventions`` the take-overs (segments). With ``budget`` the
    supervisor is not consulted once that many labels were given, so a budget is never passed.
    """

    def __init__(self, driver: Agent, supervisor: Supervisor, *, perception: Perception | None = None,
                 budget: int | None = None) -> None:
        if not isinstance(supervisor, Supervisor):
            raise ConfigError(f"the supervisor must have reset() and intervene(obs, proposed); got "
                              f"{type(supervisor).__name__}")
        if budget is not None and budget < 0:
            raise ConfigError(f"budget must be >= 0 labels (or None), got {budget}")
        self.driver, self.supervisor, self.perception, self.budget = driver, supervisor, perception, budget
        self.label: np.ndarray | None = None
        self.labels = self.interventions = 0

    def reset(self) -> None:
        """Reset the driver, its perception and the supervisor."""
        self.driver.reset()
        if self.perception is not None:
            self.perception.reset()
        self.supervisor.reset()
        self.label = None

    def act(self, obs: Features) -> np.ndarray:
        """The learner's proposal, or the supervisor's action when they take over."""
        features = obs if self.perception is None else self.perception(obs)
        proposed = self.driver.act(features)  # asked every step: stateful drivers stay in step
        taken = None if self.budget is not None and self.labels >= self.budget else \
            self.supervisor.intervene(obs, proposed)
        if taken is None:
            self.label = None
            return proposed
        if self.label is None:
            self.interventions += 1
        self.label = taken = np.asarray(taken)
        self.labels += 1
        return taken

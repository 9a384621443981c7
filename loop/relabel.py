"""Driving with one policy while another labels every step (DART, DAgger), each asked once per step.

The label is what a dataset stores; the executed action is what the env gets. Collection,
DART and DAgger differ only in how the executed action is chosen:

- plain collection: ``Relabelled(expert)`` executes the expert's label;
- DART (Laskey et al. 2017): ``Relabelled(expert, noise_std=0.6)`` executes the label plus
  Gaussian noise, so demonstrations show recovery from the states the noise leads to;
- DAgger (Ross et al. 2011): ``Relabelled(expert, driver=learner, beta=b)`` executes the
  expert's label with probability ``b`` and the learner's action otherwise.

The labeller (an expert reading the privileged ``state``) sees the raw observation; the driver
sees ``perception(obs)``, so a pixel learner can be relabelled by a state expert. Use this object
as the loop's agent with no loop-level perception (``perception=None``): it applies the driver's.
"""

import numpy as np

from envs.errors import ConfigError
from loop.protocols import Agent, Features, Perception


class Relabelled:
    """An Agent that labels each step with ``labeller`` and executes ``driver``'s action (or the label).

    ``label`` holds this step's label after every ``act``; ``labels`` counts the labels given.
    ``labeller.act`` and ``driver.act`` run exactly once per step, also when they are one object.
    """

    def __init__(self, labeller: Agent, driver: Agent | None = None, *,
                 perception: Perception | None = None, noise_std: float = 0.0, beta: float = 0.0,
                 seed: int = 0) -> None:
        if noise_std < 0:
            raise ConfigError(f"noise_std must be >= 0, got {noise_std}")
        if not 0.0 <= beta <= 1.0:
            raise ConfigError(f"beta (the probability of executing the label) must be in [0, 1], "
                              f"got {beta}")
        self.labeller, self.driver, self.perception = labeller, driver, perception
        self.noise_std, self.beta = noise_std, beta
        self.rng = np.random.default_rng(seed)  # seeded once: a run's noise is reproducible
        self.label: np.ndarray | None = None
        self.labels = 0

    def reset(self) -> None:
        """Reset the labeller, the driver and the driver's perception."""
        self.labeller.reset()
        if self.driver is not None and self.driver is not self.labeller:
            self.driver.reset()
        if self.perception is not None:
            self.perception.reset()

    def act(self, obs: Features) -> np.ndarray:
        """Label the step, then return the action to execute."""
        self.label = label = self.labeller.act(obs)
        self.labels += 1
        action = label
        if self.driver is not None and self.driver is not self.labeller:
            features = obs if self.perception is None else self.perception(obs)
            driven = self.driver.act(features)  # asked every step: stateful drivers stay in step
            if not (self.beta and self.rng.random() < self.beta):
                action = driven
        if self.noise_std:
            action = self._perturb(action)
        return action

    def _perturb(self, action: np.ndarray) -> np.ndarray:
        if np.issubdtype(np.asarray(action).dtype, np.integer):
            raise ConfigError(
                f"Gaussian action noise needs continuous actions, but the policy returned the "
                f"discrete action {action!r}; collect discrete tasks (e.g. CartPole) with noise 0")
        noise = self.rng.normal(0.0, self.noise_std, size=np.shape(action))
        return np.clip(action + noise, -1.0, 1.0).astype(np.float32)

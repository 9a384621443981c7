"""Agents that travel to other processes: picklable recipes a runner's workers build agents from.

A Ray worker cannot receive a live agent (it may hold a simulator, a renderer or a keyboard), so
``loop.runners.EpisodeJob`` carries a factory ``(env, seed) -> agent`` instead. These factories hold
only bytes and plain values; each call builds a fresh agent, so an episode never depends on the
episodes a worker ran before it (a sampler's noise, DART noise) and any split of the seeds over
workers gives the same per-seed results.
"""

from typing import Any

import gymnasium as gym
import numpy as np

from agents.checkpoint import load_checkpoint
from agents.experts import make_expert
from agents.learner import Learner
from agents.registry import agent_from_checkpoint
from loop.relabel import Relabelled
from perception.registry import make_perception


def episode_seed(run_seed: int, seed: int) -> int:
    """A noise seed for episode ``seed`` of a run seeded ``run_seed``, independent of every other episode."""
    return int(np.random.SeedSequence([run_seed, seed]).generate_state(1)[0])


class CheckpointAgents:
    """A trained agent per episode: built from its checkpoint's bytes once per process, then copied.

    Each episode gets :meth:`Learner.episode_copy` of an agent that never acts itself, so every
    episode starts from the same state (a sampler's generator included) wherever it runs.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._agent: Learner | None = None

    @classmethod
    def of(cls, agent: Learner) -> "CheckpointAgents":
        """Ship an agent in memory (e.g. just trained) as its checkpoint bytes."""
        return cls(agent.to_bytes())

    def __call__(self, env: gym.Env, seed: int) -> Learner:
        """A fresh copy of the agent (the env and seed do not change it)."""
        if self._agent is None:
            self._agent = agent_from_checkpoint(load_checkpoint(self.data), "<checkpoint bytes>")
        return self._agent.episode_copy()

    def __getstate__(self) -> dict[str, Any]:
        """Only the bytes travel; the agent is rebuilt where it is used."""
        return {"data": self.data, "_agent": None}


class ExpertDemos:
    """The collecting agent of ``scripts/collect_demos.py``: an expert whose executed actions get DART noise.

    The noise of episode ``seed`` is drawn from ``(noise_seed, seed)`` alone, so an episode is the
    same whichever worker runs it and whatever ran before it.
    """

    def __init__(self, env_id: str, kind: str = "scripted", options: dict[str, Any] | None = None,
                 noise_std: float = 0.0, noise_seed: int = 0) -> None:
        self.env_id, self.kind, self.options = env_id, kind, dict(options or {})
        self.noise_std, self.noise_seed = noise_std, noise_seed

    def __call__(self, env: gym.Env, seed: int) -> Relabelled:
        """The expert labels every step; the label plus noise is executed."""
        expert = make_expert(self.env_id, self.kind, env, **self.options)
        return Relabelled(expert, noise_std=self.noise_std, seed=episode_seed(self.noise_seed, seed))


class DAggerRollouts:
    """A DAgger round's agent: the expert labels every step; the learner drives with probability 1 - beta.

    The learner travels as checkpoint bytes and acts on its own perception (``perception`` spec); the
    mixture's coin flips of episode ``seed`` come from ``(mixture_seed, seed)`` alone.
    """

    def __init__(self, env_id: str, kind: str, options: dict[str, Any], learner: CheckpointAgents,
                 perception: dict[str, Any] | None, beta: float, mixture_seed: int) -> None:
        self.env_id, self.kind, self.options, self.learner = env_id, kind, dict(options), learner
        self.perception, self.beta, self.mixture_seed = perception, beta, mixture_seed

    def __call__(self, env: gym.Env, seed: int) -> Relabelled:
        """Expert labeller, learner driver, for one episode."""
        expert = make_expert(self.env_id, self.kind, env, **self.options)
        perception = make_perception(self.perception) if self.perception is not None else None
        return Relabelled(expert, driver=self.learner(env, seed), perception=perception, beta=self.beta,
                          seed=episode_seed(self.mixture_seed, seed))

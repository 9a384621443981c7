"""Demonstration collection: the shared loop with an EpisodeRecorder attached."""

from collections.abc import Iterable

import gymnasium as gym

from dataset import DatasetWriter
from loop.intervention import Intervened
from loop.protocols import Agent, EpisodeResult
from loop.recorders import EpisodeRecorder
from loop.relabel import Relabelled
from loop.rollout import run_episodes


def collect(
    env: gym.Env,
    agent: Agent,
    seeds: Iterable[int],
    writer: DatasetWriter,
    *,
    success_only: bool = False,
    extra: dict | None = None,
    progress: str | None = "collect demos",
) -> list[EpisodeResult]:
    """Roll out ``agent`` once per seed and commit each episode to ``writer``.

    A :class:`Relabelled` agent stores its labels instead of the executed actions (DART, DAgger); an
    :class:`Intervened` one stores only the supervisor's steps, one episode per take-over (HG-DAgger);
    ``extra`` is stored in every episode's metadata (say there how actions were produced).
    """
    labels = agent if isinstance(agent, Relabelled | Intervened) else None
    recorder = EpisodeRecorder(writer, success_only=success_only, labels=labels, extra=extra)
    return run_episodes(env, agent, seeds, callbacks=[recorder], progress=progress)

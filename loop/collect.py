"""Demonstration collection: the shared loop with an EpisodeRecorder attached."""

from collections.abc import Iterable

import gymnasium as gym

from dataset import DatasetWriter
from loop.protocols import Agent
from loop.recorders import EpisodeRecorder
from loop.rollout import EpisodeResult, run_episodes


def collect(
    env: gym.Env,
    driver: Agent,
    seeds: Iterable[int],
    writer: DatasetWriter,
    *,
    relabel: Agent | None = None,
    success_only: bool = False,
    extra: dict | None = None,
    progress: str | None = "collect demos",
) -> list[EpisodeResult]:
    """Roll out ``driver`` once per seed and commit each episode to ``writer``.

    ``relabel`` stores that agent's action instead of the executed one (DART, DAgger); ``extra``
    is stored in every episode's metadata (say there how actions were produced).
    """
    recorder = EpisodeRecorder(writer, success_only=success_only, relabel=relabel, extra=extra)
    return run_episodes(env, driver, seeds, callbacks=[recorder], progress=progress)

"""Where episodes run: in this process (``local``) or on Ray workers (``ray``); the loop is the same.

A runner takes an :class:`EpisodeJob` (picklable factories: nothing GL-related, no live env or
agent crosses a process) and a list of seeds, and returns one :class:`Rollout` per seed, in seed
order. Each worker builds its own env and perception once per task and a fresh agent per episode
(``make_agent(env, seed)``), then calls :func:`loop.rollout.rollout`, so an episode depends only on
its seed: the same seeds give the same per-episode results on any runner and any number of workers.

Recording (``job.record``) buffers each episode's arrays in the worker through the usual
:class:`EpisodeRecorder`; the driver alone commits them to its :class:`DatasetWriter`, in seed order,
so dataset writes stay atomic and never collide. Ray retries a task whose worker died
(``max_retries``); a task's episodes are counted only from the attempt that finished, so none is
counted twice, and a task that fails every attempt raises :class:`RunnerError` naming its seeds.
"""

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import gymnasium as gym
from tqdm.auto import tqdm

from dataset import Episode
from envs.errors import ConfigError, RoboloopError
from loop.intervention import Intervened
from loop.protocols import Agent, Callback, EpisodeResult
from loop.recorders import EpisodeRecorder
from loop.relabel import Relabelled
from loop.rollout import rollout
from perception.registry import make_perception

KINDS = ("local", "ray")
REPO_ROOT = Path(__file__).resolve().parents[1]  # put on local Ray workers' PYTHONPATH

EnvFactory = Callable[[], gym.Env]
AgentFactory = Callable[[gym.Env, int], Agent]  # (the worker's env, the episode's seed) -> a fresh agent
CallbackFactory = Callable[[gym.Env], Sequence[Callback]]  # the env a task built -> callbacks for it


class RunnerError(RoboloopError, RuntimeError):
    """Episodes could not be run (a worker died more often than retries allow, Ray is missing, ...)."""


@dataclass
class RunnerConfig:
    """Where episodes run (Hydra group ``runner``: configs/runner/{local,ray}.yaml)."""

    kind: str = "local"  # local: in this process | ray: on Ray workers
    workers: int = 1  # ray: tasks run at once (the seeds are split into this many tasks by default)
    cpus_per_worker: float = 1.0  # ray: CPUs each task reserves (and its torch/OpenMP threads)
    address: str | None = None  # ray: None starts a local Ray; "auto" or "ray://<head>:10001" joins one
    max_retries: int = 3  # ray: re-runs of a task whose worker process died
    episodes_per_task: int | None = None  # ray: seeds per task (None: split evenly over the workers)

    def __post_init__(self) -> None:
        """Validate values so a bad config fails before any work is done."""
        if self.kind not in KINDS:
            raise ConfigError(f"runner kind {self.kind!r} is unknown; choose one of {list(KINDS)}")
        if self.workers < 1 or self.cpus_per_worker <= 0 or self.max_retries < 0:
            raise ConfigError(f"need workers >= 1, cpus_per_worker > 0 and max_retries >= 0; got "
                              f"{self.workers}, {self.cpus_per_worker}, {self.max_retries}")
        if self.episodes_per_task is not None and self.episodes_per_task < 1:
            raise ConfigError(f"episodes_per_task must be >= 1 (or null), got {self.episodes_per_task}")


@dataclass
class EpisodeJob:
    """What a worker needs to run episodes; every field must pickle (factories, not live objects).

    ``make_env`` builds the worker's env once per task; ``make_agent(env, seed)`` a fresh agent for
    each episode; ``perception`` is a spec for :func:`perception.make_perception` (None: the raw
    observation). With ``record`` each episode's arrays come back (``Rollout.episodes``), stored as
    :class:`EpisodeRecorder` stores them (``success_only``, ``extra``; a :class:`Relabelled` or
    :class:`Intervened` agent's labels instead of the executed actions).
    """

    make_env: EnvFactory
    make_agent: AgentFactory
    perception: dict[str, Any] | None = None
    record: bool = False
    success_only: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Rollout:
    """One episode as a runner returns it: its result and, when recording, its episodes' arrays."""

    result: EpisodeResult
    episodes: list[Episode] = field(default_factory=list)


class EpisodeBuffer:
    """Stands in for a DatasetWriter inside a worker: keeps the episodes the recorder commits."""

    def __init__(self) -> None:
        self.episodes: list[Episode] = []

    def add_episode(self, episode: Episode) -> None:
        """Keep one episode (the driver writes it)."""
        self.episodes.append(episode)


def run_task(job: EpisodeJob, seeds: Sequence[int], make_callbacks: CallbackFactory | None = None,
             progress: str | None = None) -> list[Rollout]:
    """Run ``seeds`` in this process: one env and perception for all, a fresh agent per episode.

    ``make_callbacks(env)`` gives callbacks that follow every episode (e.g. a VideoRecorder of the env).
    """
    env = job.make_env()
    perception = make_perception(job.perception) if job.perception is not None else None
    callbacks = list(make_callbacks(env)) if make_callbacks is not None else []
    out: list[Rollout] = []
    try:
        for seed in tqdm(seeds, desc=progress, unit="ep", disable=progress is None, dynamic_ncols=True):
            agent = job.make_agent(env, seed)
            buffer, extra = EpisodeBuffer(), list(callbacks)
            if job.record:
                labels = agent if isinstance(agent, Relabelled | Intervened) else None
                extra.append(EpisodeRecorder(buffer, success_only=job.success_only,  # type: ignore[arg-type]
                                             labels=labels, extra=job.extra))
            result = rollout(env, agent, seed=seed, perception=perception, callbacks=extra)
            out.append(Rollout(result, buffer.episodes))
    finally:
        env.close()
    return out


class LocalRunner:
    """Every episode in this process, in seed order; callbacks (e.g. a VideoRecorder) are allowed."""

    def __init__(self, config: RunnerConfig | None = None) -> None:
        self.config = config or RunnerConfig()

    def run(self, job: EpisodeJob, seeds: Sequence[int], *, make_callbacks: CallbackFactory | None = None,
            progress: str | None = None) -> list[Rollout]:
        """One rollout per seed."""
        return run_task(job, list(seeds), make_callbacks, progress)


class RayRunner:
    """Episodes split into Ray tasks; each builds its own env and agents and calls the same loop.

    Starts a local Ray (``workers * cpus_per_worker`` CPUs, no dashboard) unless Ray is already
    running in this process or ``address`` names a cluster to join. Results are merged in seed order.
    """

    def __init__(self, config: RunnerConfig) -> None:
        self.config = config

    def run(self, job: EpisodeJob, seeds: Sequence[int], *, make_callbacks: CallbackFactory | None = None,
            progress: str | None = None) -> list[Rollout]:
        """One rollout per seed, computed on Ray workers; a lost task is retried, then reported."""
        if make_callbacks is not None:
            raise ConfigError("callbacks live in the driver's process and cannot follow episodes onto Ray "
                              "workers; use runner=local for them, or EpisodeJob(record=True) to bring the "
                              "episodes back")
        ray = self._ray()
        cfg, seeds = self.config, list(seeds)
        size = cfg.episodes_per_task or max(1, math.ceil(len(seeds) / cfg.workers))
        chunks = [seeds[i:i + size] for i in range(0, len(seeds), size)]
        task = ray.remote(num_cpus=cfg.cpus_per_worker, max_retries=cfg.max_retries)(run_task)
        shared = ray.put(job)  # the job (e.g. checkpoint bytes) enters the object store once, not per task
        pending = {task.remote(shared, chunk): i for i, chunk in enumerate(chunks)}
        done: dict[int, list[Rollout]] = {}
        bar = tqdm(total=len(seeds), desc=progress, unit="ep", disable=progress is None, dynamic_ncols=True)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(ready[0])
            try:
                done[i] = ray.get(ready[0])
            except ray.exceptions.RayError as e:
                for ref in pending:
                    ray.cancel(ref, force=True)
                raise RunnerError(f"a Ray task running seeds {chunks[i][:5]}.. ({len(chunks[i])} episodes) "
                                  f"failed after {cfg.max_retries} retries: {e}") from e
            bar.update(len(chunks[i]))
        bar.close()
        return [r for i in range(len(chunks)) for r in done[i]]

    def _ray(self) -> Any:
        try:
            import ray
        except ImportError as e:
            raise RunnerError("runner=ray needs Ray: pip install 'ray==2.60.0' (listed in pyproject.toml)") \
                from e
        if not ray.is_initialized():
            if self.config.address:
                ray.init(address=self.config.address, log_to_driver=False)
            else:  # workers import roboloop from this checkout
                path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
                ray.init(num_cpus=math.ceil(self.config.workers * self.config.cpus_per_worker),
                         include_dashboard=False, log_to_driver=False,
                         runtime_env={"env_vars": {"PYTHONPATH": path}})
        return ray



def make_runner(config: RunnerConfig | dict[str, Any] | None = None) -> LocalRunner | RayRunner:
    """The runner a config (or a plain Hydra node) asks for."""
    if not isinstance(config, RunnerConfig):
        values = dict(config or {})
        valid = {f.name for f in fields(RunnerConfig)}
        if set(values) - valid:
            raise ConfigError(f"the runner has no options {sorted(set(values) - valid)}; valid options: "
                              f"{sorted(valid)}")
        config = RunnerConfig(**values)
    return RayRunner(config) if config.kind == "ray" else LocalRunner(config)

"""Runners: the same seeds give the same episodes in this process and on Ray workers, a dead worker is
retried (no episode lost or counted twice) or reported, and only the driver writes the dataset."""

import functools
import os
import signal
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

import envs
from agents import find_method, load_agent
from agents.bc.agent import BCAgent
from agents.learner import TrainingSource
from agents.portable import CheckpointAgents, ExpertDemos
from agents.registry import make_config
from dataset import DatasetWriter, DemoDataset
from envs.errors import ConfigError
from loop.evaluation import evaluate
from loop.runners import EpisodeJob, LocalRunner, RayRunner, RunnerConfig, RunnerError, make_runner
from tests.conftest import PUSH_CUBE, ROOT

ray = pytest.importorskip("ray")
KWARGS = {"obs_mode": "state", "privileged_state": True}
SEEDS = list(range(100_000, 100_008))


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One local Ray with 2 CPUs for the module (start-up costs seconds)."""
    # pytest imports this module as a top-level "test_runners", which workers cannot: send it by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    yield
    ray.shutdown()


def demo_job(**kwargs) -> EpisodeJob:
    return EpisodeJob(functools.partial(envs.make, PUSH_CUBE, **KWARGS),
                      ExpertDemos(PUSH_CUBE, noise_std=0.6, noise_seed=3), **kwargs)


def ray_runner(**kwargs) -> RayRunner:
    return RayRunner(RunnerConfig(kind="ray", **{"workers": 2, **kwargs}))


def outcomes(rollouts) -> list[dict]:
    return [asdict(r.result) for r in rollouts]


class KillOnce:
    """Agent factory that kills its worker process the first time it meets ``seed`` (a marker file)."""

    def __init__(self, inner, seed: int, marker: Path) -> None:
        self.inner, self.seed, self.marker = inner, seed, marker

    def __call__(self, env, seed):
        if seed == self.seed and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return self.inner(env, seed)


def test_ray_gives_the_local_runners_episodes_and_arrays_seed_by_seed() -> None:
    job = demo_job(record=True)
    local = LocalRunner().run(job, SEEDS)
    remote = ray_runner().run(job, SEEDS)
    assert outcomes(remote) == outcomes(local) and [r.result.seed for r in remote] == SEEDS
    for a, b in zip(local, remote, strict=True):
        np.testing.assert_array_equal(a.episodes[0].actions, b.episodes[0].actions)
        np.testing.assert_array_equal(a.episodes[0].observations["state"],
                                      b.episodes[0].observations["state"])
    # the split of the seeds does not matter: one seed per task gives the same episodes
    assert outcomes(ray_runner(episodes_per_task=1).run(job, SEEDS)) == outcomes(local)


def test_a_trained_agent_from_its_bytes_evaluates_as_the_in_process_agent(demo_dataset) -> None:
    cfg = make_config("bc", {"steps": 30, "hidden_sizes": [32], "batch_size": 64})
    agent = BCAgent.fit(cfg, TrainingSource.from_dataset(DemoDataset(demo_dataset), progress=False))
    env = envs.make(PUSH_CUBE, **agent.meta.env_kwargs)
    direct = evaluate(env, agent, SEEDS[:4], progress=None)
    env.close()
    job = EpisodeJob(functools.partial(envs.make, PUSH_CUBE, **agent.meta.env_kwargs),
                     CheckpointAgents.of(agent))
    remote = ray_runner().run(job, SEEDS[:4])
    assert outcomes(remote) == direct.per_episode
    assert load_agent(job.make_agent.data).meta == agent.meta


def test_a_killed_worker_is_retried_and_no_episode_is_lost_or_counted_twice(tmp_path) -> None:
    marker = tmp_path / "killed"
    job = demo_job()
    job.make_agent = KillOnce(job.make_agent, SEEDS[5], marker)
    remote = ray_runner(max_retries=2).run(job, SEEDS)
    assert marker.exists(), "the worker was never killed"
    assert [r.result.seed for r in remote] == SEEDS
    assert outcomes(remote) == outcomes(LocalRunner().run(demo_job(), SEEDS))


def test_a_worker_that_keeps_dying_is_reported_with_its_seeds(tmp_path) -> None:
    job = demo_job()
    job.make_agent = KillOnce(job.make_agent, SEEDS[1], tmp_path / "killed")
    with pytest.raises(RunnerError, match=r"seeds \[100000"):
        ray_runner(max_retries=0).run(job, SEEDS[:4])


def test_only_the_driver_writes_and_the_dataset_matches_a_local_collection(tmp_path) -> None:
    for name, runner in (("local", LocalRunner()), ("ray", ray_runner())):
        writer = DatasetWriter(tmp_path / name, env_id=PUSH_CUBE, env_kwargs=KWARGS, fps=20)
        for r in runner.run(demo_job(record=True, extra={"expert": "scripted"}), SEEDS[:4]):
            for episode in r.episodes:
                writer.add_episode(episode)
    local, remote = DemoDataset(tmp_path / "local"), DemoDataset(tmp_path / "ray")
    assert remote.seeds == local.seeds == SEEDS[:4] and remote.num_frames == local.num_frames
    assert [m.extra for m in remote.episodes] == [m.extra for m in local.episodes]


def test_runner_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="choose one of"):
        RunnerConfig(kind="slurm")
    with pytest.raises(ConfigError, match="workers >= 1"):
        RunnerConfig(kind="ray", workers=0)
    with pytest.raises(ConfigError, match="valid options"):
        make_runner({"kind": "ray", "gpus": 1})
    assert isinstance(make_runner({"kind": "ray"}), RayRunner)
    with pytest.raises(ConfigError, match="runner=local"):
        ray_runner().run(demo_job(), SEEDS[:1], make_callbacks=lambda env: [])


def test_dagger_rounds_on_ray_aggregate_the_same_episodes_as_in_process(demo_dataset, tmp_path) -> None:
    config = make_config("dagger", {"rounds": 1, "episodes_per_round": 3, "beta": 0.5,
                                    "bc": {"steps": 30, "hidden_sizes": [16]}})
    for name, runner in (("local", LocalRunner()), ("ray", ray_runner())):
        source = TrainingSource.from_dataset(DemoDataset(demo_dataset), progress=False,
                                             run_dir=tmp_path / name, runner=runner)
        find_method("dagger").fit(config, source)
    local, remote = DemoDataset(tmp_path / "local" / "aggregate"), DemoDataset(tmp_path / "ray" / "aggregate")
    assert remote.seeds == local.seeds and len(local) == 30 + 3
    for i in range(30, 33):  # the round's learner-driven, expert-labelled episodes
        assert remote.episodes[i].extra["dagger_round"] == 1
        np.testing.assert_array_equal(remote.episode(i).actions, local.episode(i).actions)


def test_a_sampling_agent_gives_each_seed_the_same_episode_whatever_ran_before(demo_dataset) -> None:
    cfg = make_config("diffusion", {"steps": 5, "batch_size": 8, "down_dims": [8, 16], "action_horizon": 8,
                                    "action_steps": 4, "inference_steps": 4, "sampler": "ddpm"})
    agent = find_method("diffusion").fit(cfg, TrainingSource.from_dataset(DemoDataset(demo_dataset),
                                                                         progress=False))
    job = EpisodeJob(functools.partial(envs.make, PUSH_CUBE, **agent.meta.env_kwargs),
                     CheckpointAgents.of(agent))
    both = LocalRunner().run(job, SEEDS[:2])
    assert outcomes(LocalRunner().run(job, SEEDS[1:2])) == outcomes(both[1:])  # its sampler noise is fresh
    assert outcomes(ray_runner(episodes_per_task=1).run(job, SEEDS[:2])) == outcomes(both)

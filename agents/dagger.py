"""DAgger (Ross, Gordon & Bagnell 2011) and human-gated DAgger (Kelly et al. 2019) around a BC learner.

Train BC on the demonstrations; then, each round, roll out a mixture of learner and expert (the
expert's label is executed with probability beta_i = beta * beta_decay^(i-1), the learner's action
otherwise), let the expert label every state the learner visited, add those labelled episodes to
the aggregate dataset, and retrain on all of it. Rollouts are ``loop.collect`` with a
``Relabelled`` agent: no rollout loop of its own. With a run directory, each round's learner is
saved as ``rounds/round_<i>.pt`` (its metadata holds the expert labels it was trained on). Expert
labels are counted exactly and never pass ``label_budget``: the last episode is cut where the
budget ends.

With a runner in the training source (``runner=ray`` in scripts/train.py) a round's episodes run
on it, each with a fresh copy of the learner and coin flips seeded by its own seed, and come back
here to be written in seed order. Budgeted rounds count labels step by step and HG-DAgger asks a
supervisor, so those run in this process.

``mode=hg_dagger`` switches to HG-DAgger: the learner drives every step and the supervisor takes
over only when they choose (``loop.Intervened``); only the intervened steps become labels. The
supervisor is a person at the keyboard (``expert=keyboard``) or a stand-in that takes over when
the learner strays from it (``expert=scripted`` or ``planner`` behind an :class:`ExpertGate`).
"""

import functools
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import envs
from agents.bc.agent import BCAgent
from agents.experts import KINDS, make_expert
from agents.learner import Learner, TrainingSource
from agents.meta import AgentMeta
from agents.portable import CheckpointAgents, DAggerRollouts
from agents.registry import make_config
from agents.teleop import ExpertGate
from dataset import DatasetWriter, DemoDataset
from dataset.tools import copy_episodes
from envs.errors import ConfigError
from loop.collect import collect
from loop.intervention import Intervened
from loop.protocols import Agent, Features
from loop.relabel import Relabelled
from loop.runners import EpisodeJob
from loop.seeds import to_ranges
from perception.identity import ObservationKeyError
from perception.registry import perception_spec

MODES = ("dagger", "hg_dagger")  # label every visited state, or only the supervisor's take-overs


@dataclass
class DAggerConfig:
    """Options of DAgger (Hydra group ``agent: dagger``); ``bc`` configures the learner."""

    rounds: int = 4  # aggregate-and-retrain rounds after the first BC fit
    episodes_per_round: int = 10  # learner-driven episodes whose visited states the expert labels
    label_budget: int | None = None  # expert labels over all rounds, counted exactly (None: no limit)
    beta: float = 0.5  # probability of executing the expert's label in round 1
    beta_decay: float = 0.5  # beta_i = beta * beta_decay^(i-1)
    expert: str = "scripted"  # who labels: scripted | planner | keyboard (a person; needs hg_dagger)
    expert_options: dict[str, Any] = field(default_factory=dict)  # e.g. the planner's horizon, samples
    mode: str = "dagger"  # dagger | hg_dagger (the supervisor labels only where they take over)
    gate_threshold: float = 0.5  # hg_dagger, scripted/planner stand-in: take over beyond this gap
    gate_release: float = 0.2  # ... and hand back once the learner is within this of the expert
    bc: dict[str, Any] = field(default_factory=dict)  # the learner's BCConfig options
    warm_start: bool = True  # each round continues training the last learner (else: refit from scratch)
    seed: int = 0  # the mixture's coin flips

    def __post_init__(self) -> None:
        """Validate values so a bad config fails before any work is done."""
        if self.rounds < 0 or self.episodes_per_round < 1:
            raise ConfigError(f"rounds must be >= 0 and episodes_per_round >= 1, got {self.rounds}, "
                              f"{self.episodes_per_round}")
        if not (0.0 <= self.beta <= 1.0 and 0.0 <= self.beta_decay <= 1.0):
            raise ConfigError(f"beta and beta_decay must be in [0, 1], got {self.beta}, {self.beta_decay}")
        if self.expert not in KINDS or self.mode not in MODES:
            raise ConfigError(f"expert={self.expert!r}, mode={self.mode!r}; valid choices: expert in "
                              f"{list(KINDS)}, mode in {list(MODES)}")
        if self.expert == "keyboard" and self.mode != "hg_dagger":
            raise ConfigError("a person at the keyboard labels by taking over, not by labelling every "
                              "state: set mode=hg_dagger with expert=keyboard")
        if not 0 <= self.gate_release <= self.gate_threshold:
            raise ConfigError(f"need 0 <= gate_release <= gate_threshold, got {self.gate_release}, "
                              f"{self.gate_threshold}")
        if self.label_budget is not None and self.label_budget < 1:
            raise ConfigError(f"label_budget must be >= 1 (or null), got {self.label_budget}")
        make_config("bc", self.bc)  # the learner's options are checked now, not after the first round

    def beta_at(self, round_index: int) -> float:
        """beta_i for round ``round_index`` (1-based)."""
        return self.beta * self.beta_decay ** (round_index - 1)


class DAggerAgent(Learner):
    """The final BC learner of a DAgger run; acts exactly as that BC agent."""

    method = "dagger"
    config_class = DAggerConfig
    sources = ("dataset", "env")

    def __init__(self, config: DAggerConfig, meta: AgentMeta, learner: BCAgent) -> None:
        super().__init__(config, meta)
        self.learner = learner

    @classmethod
    def fit(cls, config: DAggerConfig, source: TrainingSource) -> "DAggerAgent":
        """BC on the demonstrations, then ``rounds`` of mixture rollouts, labels and retraining."""
        demos = source.require_dataset(cls.method)
        env = source.make_env()
        try:
            expert = make_expert(source.env_id, config.expert, env, **config.expert_options)
            horizon = _check_setup(config, env, expert)
            folder = (source.run_dir or Path(tempfile.mkdtemp())) / "aggregate"
            writer = copy_episodes(demos, range(len(demos)), folder)  # the demonstrations first
            run = _Run(config, source, env, expert, writer, horizon)
            learner = run.fit_learner(0, None)
            for i in range(1, config.rounds + 1):
                more = run.collect_round(i, learner)
                learner = run.fit_learner(i, learner if config.warm_start else None)
                if not more:
                    break  # the label budget is spent (and its last labels are learnt from)
        finally:
            env.close()
        data = DemoDataset(folder)
        meta = source.meta(cls.method, cls.training_kind(), to_ranges(data.seeds), labels=run.labels,
                           episodes=len(data), frames=data.num_frames, rounds=run.history,
                           aggregate=str(folder))
        return cls(config, meta, learner)

    def reset(self) -> None:
        """The BC learner is memoryless."""
        self.learner.reset()

    def act(self, features: Features) -> np.ndarray:
        """The final learner's action."""
        return self.learner.act(features)

    def state(self) -> dict[str, Any]:
        """The final learner's state."""
        return self.learner.state()

    @classmethod
    def from_state(cls, config: DAggerConfig, meta: AgentMeta, state: dict[str, Any]) -> "DAggerAgent":
        """Rebuild the final learner."""
        return cls(config, meta, BCAgent.from_state(make_config("bc", config.bc), meta, state))


class _Run:
    """The state of one DAgger run: the aggregate writer, the seeds used, the labels spent."""

    def __init__(self, config: DAggerConfig, source: TrainingSource, env: gym.Env, expert: Agent,
                 writer: DatasetWriter, horizon: int) -> None:
        self.config, self.source, self.env, self.expert = config, source, env, expert
        self.writer, self.horizon = writer, horizon
        used = writer.seeds
        self.seeds = (s for s in source.seeds if s not in used)  # fresh training seeds per episode
        self.labels, self.history = 0, []
        self.gate = ExpertGate(expert, config.gate_threshold, config.gate_release)  # hg_dagger's stand-in

    def fit_learner(self, round_index: int, previous: BCAgent | None) -> BCAgent:
        """BC on everything aggregated so far (continuing from ``previous`` if given)."""
        data = DemoDataset(self.writer.root)
        bc = make_config("bc", {**self.config.bc, "success_only": False})  # every visited state counts
        source = TrainingSource(self.source.env_id, self.source.env_kwargs, dataset=data,
                                perception=self.source.perception, log=self._log(round_index),
                                progress=self.source.progress)
        learner = BCAgent.fit(bc, source, init=previous)
        learner.meta.extra.update(dagger_round=round_index, labels=self.labels)
        if self.source.run_dir is not None:  # every round's learner, to compare rounds afterwards
            learner.save(self.source.run_dir / "rounds" / f"round_{round_index}.pt")
        return learner

    def collect_round(self, round_index: int, learner: BCAgent) -> bool:
        """Learner rollouts labelled by the expert; False once the budget allows no more labels."""
        cfg, beta = self.config, self.config.beta_at(round_index)
        if self.on_runner:
            self._summarize(round_index, beta, self._collect_on_runner(round_index, learner, beta))
            return True
        results = []
        for _ in range(cfg.episodes_per_round):
            remaining = None if cfg.label_budget is None else cfg.label_budget - self.labels
            if remaining is not None and remaining <= 0:
                break
            agent, env = self._labelling(learner, beta, remaining)
            results += collect(env, agent, [next(self.seeds)], self.writer, progress=None,
                               extra={"dagger_round": round_index, "mode": cfg.mode, "beta": beta,
                                      "actions": "expert labels of learner-visited states"
                                      if cfg.mode == "dagger" else "supervisor actions where they took over"})
            self.labels += agent.labels
        self._summarize(round_index, beta, results)
        return cfg.label_budget is None or self.labels < cfg.label_budget

    @property
    def on_runner(self) -> bool:
        """Whether rounds go to the source's runner (unbudgeted DAgger in a registered env)."""
        cfg, source = self.config, self.source
        return (source.runner is not None and cfg.mode == "dagger" and cfg.label_budget is None
                and source.env_factory is None)

    def _collect_on_runner(self, round_index: int, learner: BCAgent, beta: float) -> list:
        """The round's episodes on the runner; this process writes them, in seed order."""
        cfg, source = self.config, self.source
        seeds = [next(self.seeds) for _ in range(cfg.episodes_per_round)]
        spec = perception_spec(source.perception) if source.perception is not None else None
        agents = DAggerRollouts(source.env_id, cfg.expert, cfg.expert_options, CheckpointAgents.of(learner),
                                spec, beta, cfg.seed)
        make_env = functools.partial(envs.make, source.env_id, **source.env_kwargs)
        job = EpisodeJob(make_env, agents, record=True,
                         extra={"dagger_round": round_index, "mode": cfg.mode, "beta": beta,
                                "actions": "expert labels of learner-visited states"})
        rollouts = source.runner.run(job, seeds, progress=None)
        for r in rollouts:
            for episode in r.episodes:
                self.writer.add_episode(episode)
                self.labels += episode.length  # the expert labelled every step
        return [r.result for r in rollouts]

    def _summarize(self, round_index: int, beta: float, results: list) -> None:
        """The round's line in the history and its logged scalars."""
        if results:
            rate = float(np.mean([r.success for r in results]))
            self.history.append({"round": round_index, "beta": beta, "episodes": len(results),
                                 "labels": self.labels, "rollout_success": rate})
            self.source.log(round_index, {"dagger/rollout_success": rate, "dagger/labels": self.labels})

    def _labelling(self, learner: BCAgent, beta: float,
                   remaining: int | None) -> tuple[Relabelled | Intervened, gym.Env]:
        """The loop's agent for one episode, and the env (cut to the budget where labels are per step)."""
        perception = self.source.perception
        if self.config.mode == "hg_dagger":
            supervisor = self.expert if self.config.expert == "keyboard" else self.gate
            return Intervened(learner, supervisor, perception=perception, budget=remaining), self.env
        agent = Relabelled(self.expert, driver=learner, perception=perception, beta=beta,
                           seed=self.config.seed * 100_003 + self.labels)
        env = self.env if remaining is None or remaining >= self.horizon else \
            gym.wrappers.TimeLimit(self.env, remaining)  # the last episode ends with the budget
        return agent, env

    def _log(self, round_index: int) -> Any:
        log = self.source.log

        def scoped(step: int, scalars: dict[str, float]) -> None:
            log(step, {f"round{round_index}/{k}": v for k, v in scalars.items()})
        return scoped


def _check_setup(config: DAggerConfig, env: gym.Env, expert: Agent) -> int:
    """The env's horizon, after checking that the expert can act here and the budget fits an episode."""
    obs, _ = env.reset(seed=0)
    try:
        expert.reset()
        expert.act(obs)
    except ObservationKeyError as e:
        raise ConfigError(f"DAgger's expert cannot act on this env's observations: {e}") from e
    horizon = getattr(env.unwrapped, "horizon", None) or env.spec.max_episode_steps
    if config.label_budget is not None and horizon and config.label_budget < horizon:
        raise ConfigError(f"label_budget={config.label_budget} is smaller than one episode ({horizon} "
                          "steps); give at least one episode's worth of labels")
    return int(horizon)

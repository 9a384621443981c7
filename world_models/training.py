"""The model-based RL loop: explore, fit the model, plan to collect more, refit; validate on the way.

Every episode runs through the shared loop (``loop.rollout``) on the next training seed: uniform
random actions until ``explore_steps`` env steps were collected, then MPC over the current model
with a little Gaussian noise. The model is refit whenever ``fit_every`` new steps arrived. Every
``eval_every`` steps the current agent plays ``eval_episodes`` validation episodes (seeds 90000+)
through ``loop.evaluate``; the point goes to the progress bar, the logger (TensorBoard in
``scripts/train.py``) and ``learning_curve.{json,png}``; ``best.pt`` and ``last.pt`` (the model, its
optimizer, the collected transitions, the generators and the seed position, for ``resume``) are
written to the run directory. ``fit`` returns the final agent (the model trained on all the data).
"""

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from agents import distributed
from agents.checkpoint import load_checkpoint
from agents.learner import TrainingSource
from agents.rl.monitor import read_curve, write_curve
from envs.errors import ConfigError
from loop.evaluation import evaluate
from loop.protocols import Callback, Features, Step
from loop.rollout import rollout
from loop.seeds import VALIDATION_SEEDS
from world_models.agent import MPCAgent, MPCConfig, planning_reward
from world_models.dynamics import build, fit, make_optimizer
from world_models.mpc import state_of
from world_models.representations import check_fits, make_representation

FIELDS = ("states", "actions", "next_states", "rewards")


class Transitions(Callback):
    """Every step's (state, action, next state, reward), as the loop's callback sees them.

    Without ``perception`` the state is ``vector`` of the observation (the env's state vector).
    With it, the state is ``vector`` of the perception's features: a step's next state is the next
    step's features, and the episode's last one is what the perception makes of the final
    observation (the call the next step would have made).
    """

    def __init__(self, data: dict[str, torch.Tensor] | None = None,
                 vector: Callable[[Features], np.ndarray] = state_of, perception: Any = None) -> None:
        self.rows: dict[str, list] = {k: [] if data is None else list(data[k].numpy()) for k in FIELDS}
        self.vector, self.perception = vector, perception
        self._pending: tuple | None = None  # (state, action, reward, next_obs) awaiting its next state

    def on_step(self, step: Step) -> None:
        """Store the transition (with perception: the previous one, now that its next state is known)."""
        action, reward = np.asarray(step.action, np.float32), np.float32(step.reward)
        if self.perception is None:
            self._append(self.vector(step.obs), action, self.vector(step.next_obs), reward)
            return
        state = self.vector(step.features)
        if self._pending is not None:
            self._append(*self._pending[:2], state, self._pending[2])
        self._pending = (state, action, reward, step.next_obs)

    def on_episode_end(self, result: Any) -> None:
        """With perception, close the last transition on the final observation's features."""
        if self._pending is not None:
            state, action, reward, next_obs = self._pending
            self._append(state, action, self.vector(self.perception(next_obs)), reward)
            self._pending = None

    def _append(self, state: np.ndarray, action: np.ndarray, next_state: np.ndarray,
                reward: np.float32) -> None:
        for key, value in zip(FIELDS, (state, action, next_state, reward), strict=True):
            self.rows[key].append(value)

    def __len__(self) -> int:
        return len(self.rows["states"])

    def tensors(self) -> dict[str, torch.Tensor]:
        """(N, ...) float32 tensors by field."""
        return {k: torch.from_numpy(np.stack(v).astype(np.float32)) for k, v in self.rows.items()}


class Explorer:
    """Uniform random actions in [-1, 1] (the exploration phase), or noise around another agent's."""

    def __init__(self, rng: np.random.Generator, action_dim: int, agent: Any = None, noise: float = 0.0):
        self.rng, self.action_dim, self.agent, self.noise = rng, action_dim, agent, noise

    def reset(self) -> None:
        """Reset the wrapped agent, if any."""
        if self.agent is not None:
            self.agent.reset()

    def act(self, features: Features) -> np.ndarray:
        """A random action, or the agent's plus clipped Gaussian noise."""
        if self.agent is None:
            return self.rng.uniform(-1, 1, self.action_dim).astype(np.float32)
        a = self.agent.act(features) + self.noise * self.rng.standard_normal(self.action_dim)
        return np.clip(a, -1, 1).astype(np.float32)


def train(config: MPCConfig, source: TrainingSource) -> MPCAgent:
    """Run the loop until ``total_steps`` env steps (whole episodes) were collected."""
    env = source.make_env(**({"horizon": config.horizon} if config.horizon else {}))
    eval_env = source.make_env()
    representation = make_representation(config.state, env, source.perception)
    model = build(representation.dim, int(np.prod(env.action_space.shape or (0,))), config.world_model)
    check_fits(model, representation, env)
    planning_reward(representation, config, source.env_id)  # refused before any episode, not after
    run = _Run(config, source, model, representation)
    if source.resume:
        run.restore()
    bar = tqdm(total=config.total_steps, initial=run.steps, desc="train mpc", unit="step",
               disable=not source.progress, dynamic_ncols=True)
    try:
        while run.steps < config.total_steps:
            run.episode(env)
            bar.update(run.steps - bar.n)
            if run.due_for_validation():
                point = run.validate(eval_env)
                bar.set_postfix(success=f"{point['success_rate']:.2f}", ret=f"{point['mean_return']:.1f}")
        if config.eval_every == 0 or not run.curve or run.curve[-1]["step"] != run.steps:
            run.validate(eval_env)
    finally:
        bar.close()
        env.close()
        eval_env.close()
    return run.agent()


class _Run:
    """The loop's state: the model, its optimizer, the data, the generators, the curve."""

    def __init__(self, config: MPCConfig, source: TrainingSource, model: Any, representation: Any) -> None:
        self.config, self.source, self.model, self.representation = config, source, model, representation
        self.optimizer = make_optimizer(model)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.perception = None if representation.name == "env" else source.perception
        self.data = Transitions(vector=representation.vector, perception=self.perception)
        self.steps, self.episodes, self.fitted_at, self.fits = 0, 0, 0, 0
        self.next_eval = config.eval_every or None
        self.curve: list[dict] = []
        self.best: dict | None = None
        self.started = time.perf_counter()

    @property
    def run_dir(self) -> Path | None:
        """Where the checkpoints and the curve go."""
        return self.source.run_dir

    def agent(self) -> MPCAgent:
        """The agent as it is now."""
        first = self.source.seeds[0]
        meta = self.source.meta(MPCAgent.method, MPCAgent.training_kind(), [(first, first + self.episodes)],
                                env_steps=self.steps, episodes=self.episodes, model_fits=self.fits,
                                transitions=len(self.data))
        return MPCAgent(self.config, meta, self.model, self.representation)

    def episode(self, env: Any) -> None:
        """One training episode on the next seed; refits the model when enough new steps arrived."""
        action_dim = self.model.action_dim
        actor = (Explorer(self.rng, action_dim) if self.fits == 0 else
                 Explorer(self.rng, action_dim, self.agent(), self.config.action_noise))
        seed = self.source.seeds[self.episodes]
        result = rollout(env, actor, seed=seed, perception=self.source.perception, callbacks=[self.data])
        self.steps, self.episodes = self.steps + result.length, self.episodes + 1
        self.source.log(self.steps, {"episode_return": result.episode_return,
                                     "episode_success": float(result.success)})
        if self.steps >= self.config.explore_steps and (
                self.fits == 0 or self.steps - self.fitted_at >= self.config.fit_every):
            self.model.train()
            scalars = fit(self.model, self.data.tensors(), self.generator, self.optimizer)
            self.model.eval()
            self.fitted_at, self.fits = self.steps, self.fits + 1
            self.source.log(self.steps, scalars)

    def due_for_validation(self) -> bool:
        """True once the steps passed the next validation point (which then moves on)."""
        if self.next_eval is None or self.steps < self.next_eval or self.fits == 0:
            return False
        while self.next_eval <= self.steps:
            self.next_eval += self.config.eval_every
        return True

    def validate(self, eval_env: Any) -> dict:
        """Validation episodes, the curve point, best.pt / last.pt / learning_curve.* in the run dir."""
        agent = self.agent()
        seeds = list(VALIDATION_SEEDS[:self.config.eval_episodes])
        summary = evaluate(eval_env, agent, seeds, perception=self.source.perception, progress=None)
        point = {"step": self.steps, "seconds": round(time.perf_counter() - self.started, 1),
                 "success_rate": summary.success_rate, "success_ci95": list(summary.success_ci95),
                 "mean_return": summary.mean_return, "episodes": summary.episodes}
        self.curve.append(point)
        self.source.log(self.steps, {"validation/success_rate": summary.success_rate,
                                     "validation/mean_return": summary.mean_return})
        if self.run_dir is not None and distributed.is_rank0():  # under torchrun, rank 0 alone writes
            if self.best is None or _score(point) > _score(self.best):
                self.best = point
                agent.save(self.run_dir / "best.pt")
            self.snapshot(agent).save(self.run_dir / "last.pt")
            write_curve(self.run_dir, self.curve, f"mpc on {self.source.env_id}")
        return point

    def snapshot(self, agent: MPCAgent) -> MPCAgent:
        """The agent with the loop's training state in its checkpoint (``state()["training"]``)."""
        training = {"optimizer": self.optimizer.state_dict(), "data": self.data.tensors(),
                    "steps": self.steps, "episodes": self.episodes, "fitted_at": self.fitted_at,
                    "fits": self.fits, "generator": self.generator.get_state(),
                    "rng": json.dumps(self.rng.bit_generator.state),
                    "seconds": time.perf_counter() - self.started}
        agent.training = training
        return agent

    def restore(self) -> None:
        """Continue from ``last.pt`` in the run directory (a ConfigError if there is none)."""
        path = None if self.run_dir is None else self.run_dir / "last.pt"
        if path is None or not path.is_file():
            raise ConfigError(f"resume=true but there is no last.pt in {self.run_dir}; start without resume")
        state = load_checkpoint(path)["state"]
        t = state["training"]
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(t["optimizer"])
        self.data = Transitions(t["data"], self.representation.vector, self.perception)
        self.steps, self.episodes = t["steps"], t["episodes"]
        self.fitted_at, self.fits = t["fitted_at"], t["fits"]
        self.generator.set_state(t["generator"])
        self.rng.bit_generator.state = json.loads(t["rng"])
        self.started = time.perf_counter() - t["seconds"]
        self.curve = read_curve(self.run_dir)
        self.best = max(self.curve, key=_score) if self.curve else None
        if self.config.eval_every:
            self.next_eval = (self.steps // self.config.eval_every + 1) * self.config.eval_every


def _score(point: dict) -> tuple[float, float]:
    """Validation success first, mean return to break ties."""
    return point["success_rate"], point["mean_return"]

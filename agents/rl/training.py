"""One SB3 training run: its envs, its model, resuming, and the monitor that watches ``learn``."""

from typing import Any

import gymnasium as gym
from stable_baselines3.common.logger import Logger

from agents.checkpoint import load_checkpoint
from agents.learner import TrainingSource
from agents.rl.config import RLConfig
from agents.rl.envs import TrainingEnv, training_envs
from agents.rl.monitor import ScalarForwarder, TrainingMonitor, read_curve
from agents.rl.policy_input import PolicyInput, policy_name, probe_space
from agents.rl.resume import load_replay_buffer, restore_training_state, save_replay_buffer, training_state
from agents.spaces import space_to_dict
from envs.errors import ConfigError
from perception.registry import perception_spec

SEEDS_PER_RUN = 10_000  # training seed s draws env seeds from index s * SEEDS_PER_RUN on


class Training:
    """Builds everything ``learn`` needs from a config and a source, runs it, returns the agent."""

    def __init__(self, agent_class: Any, config: RLConfig, source: TrainingSource, eval_env: gym.Env) -> None:
        self.agent_class, self.config, self.source, self.eval_env = agent_class, config, source, eval_env
        spec = perception_spec(source.perception)
        self.perception = None if spec["name"] == "identity" else source.perception
        self.feature_space = (eval_env.observation_space if self.perception is None
                              else probe_space(eval_env, self.perception))
        self.policy = policy_name(config.policy, self.policy_input())  # also checks obs_keys
        self.first = config.seed * SEEDS_PER_RUN
        self.venv = training_envs(
            [TrainingEnv(source.env_id, dict(source.env_kwargs), spec, config.obs_keys, config.frame_stack,
                         source.seeds, self.first, i, config.n_envs) for i in range(config.n_envs)],
            config.subprocess)
        self.model = agent_class.algorithm(self.policy, self.venv, device="cpu", verbose=0,
                                           **config.algorithm_kwargs())
        self.model.set_logger(Logger(folder=None, output_formats=[ScalarForwarder(source.log)]))

    def policy_input(self) -> PolicyInput:
        """A fresh features -> policy input translator, as training uses."""
        return PolicyInput(self.feature_space, self.config.obs_keys, self.config.frame_stack)

    def snapshot(self, with_training: bool) -> Any:
        """The agent as it is now; with the full training state for ``last.pt``."""
        seeds, used = self.source.seeds, max(self.venv.get_attr("next_index"))  # a covering range
        cls = self.agent_class
        meta = self.source.meta(cls.method, cls.training_kind(), [(seeds[self.first], seeds[used - 1] + 1)],
                                env_steps=int(self.model.num_timesteps), policy=self.policy,
                                feature_space=space_to_dict(self.feature_space))
        state = training_state(self.model) if with_training else None
        return self.agent_class(self.config, meta, copy_policy(self.model.policy), self.policy_input(), state)

    def run(self) -> Any:
        """``learn`` under a monitor; the best (validation) or the last agent."""
        cfg, source = self.config, self.source
        curve = self.resume() if source.resume else []
        save_buffer = (lambda path: save_replay_buffer(self.model, path)) if cfg.save_replay_buffer else None
        monitor = TrainingMonitor(cfg.total_steps, cfg.eval_every, cfg.eval_episodes, self.eval_env,
                                  self.perception, self.snapshot, source.log, source.run_dir, curve,
                                  source.progress, f"{self.agent_class.method} on {source.env_id}",
                                  save_buffer)
        try:
            self.model.learn(max(cfg.total_steps - self.model.num_timesteps, 0), callback=monitor,
                             reset_num_timesteps=not source.resume, progress_bar=False)
            last = self.snapshot(False)
        finally:
            self.venv.close()
        return monitor.best_agent if cfg.select == "best" and monitor.best_agent is not None else last

    def resume(self) -> list[dict]:
        """Load ``last.pt`` (and the replay buffer, if kept); the curve so far."""
        run_dir, method = self.source.run_dir, self.agent_class.method
        path = None if run_dir is None else run_dir / "last.pt"
        if path is None or not path.is_file():
            raise ConfigError(f"resume=true but there is no last.pt in {run_dir}; point hydra.run.dir "
                              "at the interrupted run's directory")
        ckpt = load_checkpoint(path)
        if ckpt["meta"]["method"] != method:
            raise ConfigError(f"{path} is a {ckpt['meta']['method']} checkpoint; it cannot resume as "
                              f"{method} (use agent={ckpt['meta']['method']})")
        if not ckpt["state"].get("training"):
            raise ConfigError(f"{path} holds no training state to resume from")
        restore_training_state(self.model, ckpt["state"]["training"])
        if self.config.save_replay_buffer and (run_dir / "last_replay.npz").is_file():
            load_replay_buffer(self.model, run_dir / "last_replay.npz")
        return read_curve(run_dir)


def copy_policy(policy: Any) -> Any:
    """An independent copy of an SB3 policy for acting (training goes on changing the original)."""
    clone = type(policy)(**policy._get_constructor_parameters())
    clone.load_state_dict(policy.state_dict())
    clone.set_training_mode(False)
    return clone

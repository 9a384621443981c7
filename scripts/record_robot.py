"""Record demonstrations from a robot (real, or simulator-backed) into the normal dataset format.

export ROBOLOOP_ROBOT_TOKEN=...                          # the server's token
python scripts/robot_server.py robot=sim_reach &         # beside the robot
python scripts/record_robot.py robot=sim_reach episodes=5              # a person drives with the keyboard
python scripts/record_robot.py robot=sim_reach teleop=expert episodes=20   # the task's script drives (sim)

The env is ``roboloop/RealRobot-v0`` (``envs/real/env.py``) on the server at ``robot.address``; the
dataset stores that id and its options (the address, never the token), so ``scripts/train.py``
trains on it and ``scripts/evaluate.py`` runs the checkpoint on the same robot. Episodes go
through ``loop.collect``: each is committed atomically at its end, so a crash or a kill never
leaves half an episode, and the server's watchdog holds the robot when this process dies.
"""

import logging

import gymnasium as gym
import hydra
from omegaconf import DictConfig
from robots import env_kwargs

import envs
from agents.experts import make_expert
from dataset import DatasetWriter
from envs.errors import ConfigError
from envs.registry import REAL_ROBOT_ID
from loop.collect import collect
from loop.protocols import Agent
from runs import plain, start_run, write_collection_metrics

log = logging.getLogger("roboloop")
TELEOPS = ("keyboard", "expert")


@hydra.main(config_path="../configs", config_name="record_robot", version_base="1.3")
def main(cfg: DictConfig) -> float:
    """Teleoperate seeds ``start_seed ..`` and record every episode; returns the success rate."""
    if cfg.teleop not in TELEOPS:
        raise ConfigError(f"teleop={cfg.teleop!r}; valid choices: {list(TELEOPS)}")
    out = start_run(cfg)
    kwargs = env_kwargs(cfg.robot)
    env = envs.make(REAL_ROBOT_ID, **kwargs)
    try:
        root = cfg.dataset_dir or out / "dataset"
        writer = DatasetWriter(root, env_id=REAL_ROBOT_ID, env_kwargs=kwargs,
                               fps=float(env.metadata["render_fps"]), resume=cfg.resume)
        seeds = [s for s in range(cfg.start_seed, cfg.start_seed + cfg.episodes) if s not in writer.seeds]
        driver = teleop(cfg, env)
        log.info("recording %d episodes from %r with %s teleop", len(seeds), env.unwrapped.robot.name,
                 cfg.teleop)
        results = collect(env, driver, seeds, writer, success_only=cfg.success_only,
                          extra={"teleop": cfg.teleop, "robot": env.unwrapped.robot.name,
                                 "actions": "teleop commands (safety may have clipped what was sent)"})
    finally:
        env.close()
    return write_collection_metrics(results, writer, root, out, cfg.episodes, "teleoperated episodes")


def teleop(cfg: DictConfig, env: gym.Env) -> Agent:
    """The driver: keyboard teleop (a person), or the served task's scripted expert (sim robots)."""
    if cfg.teleop == "keyboard":
        return make_expert(REAL_ROBOT_ID, "keyboard", env, **plain(cfg.teleop_options))
    if not cfg.robot.task:
        raise ConfigError("teleop=expert needs robot.task: the scripted expert of that simulated task "
                          "drives")
    return make_expert(cfg.robot.task, "scripted", **plain(cfg.teleop_options))


if __name__ == "__main__":
    main()

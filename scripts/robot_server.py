"""Serve a robot beside its hardware: safety, watchdog and e-stop run here, clients connect over ZeroMQ.

export ROBOLOOP_ROBOT_TOKEN=$(python -c 'import secrets; print(secrets.token_hex(16))')
python scripts/robot_server.py robot=sim_reach                       # the simulated Reach arm
python scripts/robot_server.py robot=sim_push_cube robot.faults.latency_s=0.01 robot.faults.drop_rate=0.01
python scripts/robot_server.py robot=mock robot.driver=my_pkg.arm:MyArm   # your driver

Serves until Ctrl-C, then torques the robot off. Clients: ``envs.make("roboloop/RealRobot-v0",
address=...)``, ``scripts/record_robot.py``, ``scripts/evaluate.py`` on a robot dataset's checkpoint.
"""

import logging
import signal

import hydra
from omegaconf import DictConfig
from robots import make_server

from runs import start_run

log = logging.getLogger("roboloop")


@hydra.main(config_path="../configs", config_name="robot_server", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Build the robot and its server from ``robot=``, then serve until interrupted."""
    start_run(cfg)
    server = make_server(cfg.robot)
    server.bind()
    signal.signal(signal.SIGTERM, lambda *_: server.stop())  # `kill` stops it cleanly: torque off first
    print(f"serving {server.robot.name!r} on {server.endpoint} (token from ${cfg.robot.token_env})",
          flush=True)
    try:
        server.serve_forever()
    finally:
        log.info("requests %s, rejected %s, safety %s", dict(server.requests), dict(server.rejections),
                 dict(server.robot.counts))


if __name__ == "__main__":
    main()

"""What the robot scripts share: the driver, safety and server from a ``robot=`` config, the env options.

``configs/robot/*.yaml`` describes one robot: its driver (``sim`` for a roboloop task, or your
``package.module:Class``), where it is served, its safety limits and injected faults.
"""

import importlib
from typing import Any
from urllib.parse import urlsplit

from omegaconf import DictConfig

from envs.errors import ConfigError
from envs.real import Faults, Robot, SafetyConfig, SimRobot
from envs.real.server import RobotServer, ServerConfig
from runs import plain


def make_driver(cfg: DictConfig) -> Robot:
    """The robot the server runs beside: a :class:`SimRobot` for ``driver: sim``, else your class."""
    if cfg.driver == "sim":
        if not cfg.task:
            raise ConfigError("driver: sim needs task: <a roboloop id>, e.g. roboloop/Reach-v0")
        return SimRobot(cfg.task, plain(cfg.task_kwargs))
    module, _, name = str(cfg.driver).partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as e:
        raise ConfigError(f"driver={cfg.driver!r} could not be imported ({e}); give 'sim' or "
                          "'package.module:Class' of a Robot subclass on the Python path") from e
    if not (isinstance(cls, type) and issubclass(cls, Robot)):
        raise ConfigError(f"driver={cfg.driver!r} is not a Robot subclass (envs.real.Robot)")
    return cls(**plain(cfg.driver_kwargs))


def make_server(cfg: DictConfig) -> RobotServer:
    """The server for ``cfg``; a sim driver gets its task's limits unless ``safety.limits`` lists some."""
    robot = make_driver(cfg)
    safety = plain(cfg.safety)
    if safety.get("limits") is None:
        if isinstance(robot, SimRobot):
            robot.connect()
            safety["limits"] = robot.default_limits()
        else:
            safety["limits"] = ()
    host, port = split_address(cfg.address)
    server_cfg = ServerConfig(host=host, port=port, token_env=cfg.token_env, allow_remote=cfg.allow_remote)
    return RobotServer(robot, server_cfg, safety=SafetyConfig.from_dict(safety),
                       faults=Faults(**plain(cfg.faults)))


def env_kwargs(cfg: DictConfig) -> dict[str, Any]:
    """Options of ``roboloop/RealRobot-v0`` for this robot (stored in datasets: no token here)."""
    return {"address": cfg.address, "token_env": cfg.token_env, "timeout_s": cfg.timeout_s,
            "retries": cfg.retries, "control_hz": cfg.control_hz, "horizon": cfg.horizon,
            "realtime": cfg.realtime, "task_id": cfg.task, "task_kwargs": plain(cfg.task_kwargs)}


def split_address(address: str) -> tuple[str, int]:
    """``tcp://host:port`` -> (host, port)."""
    parts = urlsplit(address)
    if parts.scheme != "tcp" or parts.hostname is None or parts.port is None:
        raise ConfigError(f"address must look like tcp://127.0.0.1:5555, got {address!r}")
    return parts.hostname, parts.port

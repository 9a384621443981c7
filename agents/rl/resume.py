"""An SB3 model's training state as tensors and plain values, so that ``resume=true`` continues it.

What SB3's own zip pickles, kept in a weights-only checkpoint instead: every network and
optimizer state dict, the loose tensors (SAC's entropy coefficient), the step and update
counters, the random generators, and where each training env is in its seed sequence. The replay
buffer goes to an ``.npz`` beside the checkpoint (read with ``allow_pickle=False``), if asked.
"""

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.utils import get_device

from dataset.atomic import atomic_path
from envs.errors import ConfigError

_COUNTERS = ("num_timesteps", "_n_updates", "_episode_num", "_n_calls")  # _n_calls: DQN's target
_BUFFER = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


def training_state(model: BaseAlgorithm) -> dict[str, Any]:
    """Everything but the replay buffer that a resumed run needs."""
    names, variables = model._get_torch_save_params()  # what SB3's own save writes
    np_state = np.random.get_state()
    return {
        "algorithm": type(model).__name__,
        "state_dicts": model.get_parameters(),
        "variables": {n: _attr(model, n).detach().clone() for n in variables},
        "counters": {n: int(getattr(model, n)) for n in _COUNTERS if hasattr(model, n)},
        "rng": {"torch": torch.get_rng_state(), "numpy_key": torch.from_numpy(np_state[1].astype(np.int64)),
                "numpy_pos": int(np_state[2]), "python": list(random.getstate()[1])},
        "seed_index": [int(i) for i in model.get_env().get_attr("next_index")],
    }


def restore_training_state(model: BaseAlgorithm, state: dict[str, Any]) -> None:
    """Put :func:`training_state` back into a freshly built model of the same algorithm."""
    if state["algorithm"] != type(model).__name__:
        raise ConfigError(f"cannot resume {type(model).__name__} training from a "
                          f"{state['algorithm']} checkpoint; resume with agent={state['algorithm'].lower()}")
    model.set_parameters(state["state_dicts"], exact_match=True, device=get_device("cpu"))
    for name, value in state["variables"].items():
        _attr(model, name).data.copy_(value)
    for name, value in state["counters"].items():
        setattr(model, name, value)
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    np.random.set_state(("MT19937", rng["numpy_key"].numpy().astype(np.uint32), rng["numpy_pos"], 0, 0.0))
    random.setstate((3, tuple(rng["python"]), None))
    venv = model.get_env()
    if len(state["seed_index"]) != venv.num_envs:
        raise ConfigError(f"the checkpoint trained {len(state['seed_index'])} envs, this run has "
                          f"{venv.num_envs}; resume with n_envs={len(state['seed_index'])}")
    for k, index in enumerate(state["seed_index"]):
        venv.env_method("set_next_index", index, indices=[k])  # set_attr would land on the Monitor


def save_replay_buffer(model: BaseAlgorithm, path: Path) -> Path | None:
    """The off-policy buffer as arrays (None for on-policy algorithms)."""
    buffer = getattr(model, "replay_buffer", None)
    if buffer is None:
        return None
    arrays = {"pos": np.array(buffer.pos), "full": np.array(buffer.full)}
    for name in _BUFFER:
        value = getattr(buffer, name)
        if isinstance(value, dict):  # DictReplayBuffer
            arrays.update({f"{name}/{k}": v for k, v in value.items()})
        else:
            arrays[name] = value
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def load_replay_buffer(model: BaseAlgorithm, path: Path) -> None:
    """Fill the model's buffer from :func:`save_replay_buffer`'s file (no pickles are read)."""
    buffer = model.replay_buffer
    with np.load(path, allow_pickle=False) as data:
        for name in _BUFFER:
            target = getattr(buffer, name)
            if isinstance(target, dict):
                for k in target:
                    target[k][...] = data[f"{name}/{k}"]
            else:
                target[...] = data[name]
        buffer.pos, buffer.full = int(data["pos"]), bool(data["full"])


def _attr(model: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        model = getattr(model, part)
    return model

"""The BC agent: learns offline from a dataset, acts through the loop's numpy interface.

Two networks behind one agent. Vector observations with one frame, one action and the MSE head
train the plain MLP on flat features held in memory (``BCPolicy``, the fast path ``make demo``
uses). Anything else (camera images, an observation history To, action chunks Tp, the mixture
head) trains :class:`BCNetwork` on dataset windows; the agent then keeps the last To
observations and a queue of the chunk's first Ta actions, so the loop still calls ``act`` once
per step.
"""

from collections import deque
from typing import Any

import numpy as np
import torch

from agents.bc.config import BCConfig
from agents.bc.network import BCNetwork, is_image_shape
from agents.bc.policy import BCPolicy
from agents.bc.train import fit_network, fit_policy
from agents.features import flatten_features
from agents.learner import Learner, TrainingSource
from agents.meta import AgentMeta
from agents.normalizer import Normalizer
from agents.spaces import is_discrete, space_from_dict
from envs.errors import ConfigError
from loop.protocols import Features
from loop.seeds import to_ranges
from perception.registry import perception_spec


class BCAgent(Learner):
    """Behaviour cloning: numpy features in, a clipped action (Da,) or an action index out."""

    method = "bc"
    config_class = BCConfig
    sources = ("dataset",)
    resumable = True  # train_state.pt in the run dir, at any number of torchrun processes
    data_parallel = True  # torchrun: each process trains on its shard of every global batch

    def __init__(self, model: BCPolicy | BCNetwork, config: BCConfig, meta: AgentMeta) -> None:
        super().__init__(config, meta)
        self.model = model.eval()
        self._history: deque = deque(maxlen=config.obs_horizon)
        self._queue: deque = deque()

    @property
    def policy(self) -> BCPolicy | BCNetwork:
        """The trained network."""
        return self.model

    @classmethod
    def fit(cls, config: BCConfig, source: TrainingSource, init: "BCAgent | None" = None) -> "BCAgent":
        """Regress (or classify) the dataset's actions from its frames' features.

        With ``init`` (a BC agent of the same config) training continues from its network, with
        the observation statistics refitted to this dataset and the first layer rewritten so the
        network's function is unchanged by the refit: DAgger's rounds warm-start this way.
        """
        action_space = source.spaces()[1]
        n = int(action_space.n) if is_discrete(action_space) else None
        if n is not None and not config.flat:
            raise ConfigError("discrete actions take one action per step and the MSE head: set "
                              "action_horizon=1, obs_horizon=1 and head=mse")
        data = source.require_dataset(cls.method)
        if config.flat and not _has_images(data, config.obs_keys):
            data, obs, actions = source.demonstrations(cls.method, config.obs_keys, config.success_only)
            model: BCPolicy | BCNetwork = fit_policy(obs, actions, config, n, log=source.log,
                                                     progress=source.progress,
                                                     init=None if init is None else init.model,
                                                     run_dir=source.run_dir, resume=source.resume)
            frames = len(obs)
        else:
            if perception_spec(source.perception)["name"] != "identity":
                raise ConfigError("BC on images, histories or chunks reads the dataset's own keys; "
                                  "train it with perception=identity and name the keys in obs_keys")
            if config.success_only:
                data = data.filtered(success_only=True)
            windows = data.windows(config.obs_horizon, config.action_horizon, keys=config.obs_keys)
            model = fit_network(windows, config, n, log=source.log, progress=source.progress,
                                init=None if init is None else init.model, run_dir=source.run_dir,
                                resume=source.resume)
            frames = len(windows)
        meta = source.meta(cls.method, cls.training_kind(), to_ranges(data.seeds), frames=int(frames),
                           episodes=len(data))
        return cls(model, config, meta)

    def reset(self) -> None:
        """Forget the observation history and the queued actions."""
        self._history.clear()
        self._queue.clear()

    @torch.no_grad()
    def act(self, features: Features) -> np.ndarray:
        """Action (Da,) float32 in [-1, 1], or an int64 index for discrete actions."""
        if isinstance(self.model, BCPolicy):
            out = self.model(torch.from_numpy(flatten_features(features, self.config.obs_keys))[None])[0]
            return np.int64(out.argmax().item()) if self.model.discrete else out.clamp(-1.0, 1.0).numpy()
        if not isinstance(features, dict):
            features = {"state": features}
        self._history.append({k: np.asarray(features[k]) for k in self.config.obs_keys})
        if not self._queue:
            self._queue.extend(self._predict())
        return self._queue.popleft()

    def _predict(self) -> list[np.ndarray]:
        """The next Ta actions (or one index) from the last To observations."""
        frames = list(self._history)
        frames = [frames[0]] * (self.config.obs_horizon - len(frames)) + frames  # pad the first
        obs = {k: torch.from_numpy(np.stack([f[k] for f in frames]))[None] for k in self.config.obs_keys}
        out = self.model(obs)[0]
        if self.model.discrete:
            return [np.int64(out.argmax().item())]
        chunk = out.clamp(-1.0, 1.0).numpy()
        return list(chunk[:self.config.action_steps])

    def state(self) -> dict[str, Any]:
        """Weights, normalizers and what rebuilds the network."""
        if isinstance(self.model, BCPolicy):
            net = self.model.net
            return {"obs_dim": net[0].in_features, "out_dim": net[-1].out_features,
                    "policy": self.model.state_dict()}
        net = self.model
        return {"network": net.state_dict(), "frame_shapes": net.frame_shapes,
                "frame_dtypes": net.frame_dtypes, "action_dim": net.action_dim,
                "num_discrete": net.num_discrete}

    @classmethod
    def from_state(cls, config: BCConfig, meta: AgentMeta, state: dict[str, Any]) -> "BCAgent":
        """Rebuild from a checkpoint."""
        discrete = is_discrete(space_from_dict(meta.action_space))
        if "network" in state:
            shapes = {k: tuple(v) for k, v in state["frame_shapes"].items()}
            net = BCNetwork(shapes, state["frame_dtypes"], config, state["action_dim"],
                            state["num_discrete"])
            net.load_state_dict(state["network"])
            return cls(net, config, meta)
        obs_dim, out_dim = state["obs_dim"], state["out_dim"]
        policy = BCPolicy(obs_dim, out_dim, config.hidden_sizes, Normalizer.empty(obs_dim),
                          None if discrete else Normalizer.empty(out_dim))
        policy.load_state_dict(state["policy"])
        return cls(policy, config, meta)


def _has_images(data: Any, keys: list[str]) -> bool:
    """True if any of ``keys`` holds camera frames in the dataset."""
    specs = [data.features.get(f"observation.{k}") for k in keys]
    return any(is_image_shape(tuple(s["shape"]), s["dtype"]) for s in specs if s is not None)

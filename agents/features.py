"""Turn loop features (an array or a dict of arrays) into the flat vectors MLP agents consume."""

from collections.abc import Sequence

import numpy as np

from dataset import DemoDataset
from envs.errors import InvalidObservationError
from loop.protocols import Features, Perception
from perception.identity import Identity, ObservationKeyError


def flatten_features(features: Features, keys: Sequence[str]) -> np.ndarray:
    """Concatenate ``features[k]`` for ``k`` in ``keys`` into float32 (D,).

    A bare array stands for ``{"state": array}``, which is what ``obs_mode="state"`` envs return.
    """
    if not isinstance(features, dict):
        features = {"state": features}
    missing = [k for k in keys if k not in features]
    if missing:
        raise ObservationKeyError(
            f"agent expects observation keys {list(keys)} but got {sorted(features)}; "
            "make the env with a matching obs_mode or retrain with obs_keys set to available keys")
    parts = [np.asarray(features[k], dtype=np.float32).reshape(-1) for k in keys]
    out = parts[0] if len(parts) == 1 else np.concatenate(parts)
    if not np.isfinite(out).all():
        raise InvalidObservationError(f"observation contains NaN or inf under keys {list(keys)}: {out}")
    return out


def dataset_features(data: DemoDataset, keys: Sequence[str],
                     perception: Perception | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every frame's features and action: obs (N, Do) float32, actions (N, Da) float32.

    Each stored observation goes through ``perception`` (reset at every episode start) as the
    env's observation would in the loop, then ``keys`` are flattened. Without perception (or with
    ``Identity``) the stored arrays are used directly.
    """
    if perception is None or isinstance(perception, Identity):
        windows = data.windows(keys=list(keys))
        n = len(windows)
        obs = np.concatenate([windows.current_obs(k).reshape(n, -1) for k in keys], axis=1)
        return obs.astype(np.float32), windows.actions.astype(np.float32)
    windows = data.windows()
    bare = data.env_kwargs.get("obs_mode", "state") == "state"  # the env gave the array itself
    rows, last_episode = [], None
    for i, episode in enumerate(windows.episode_index.tolist()):
        if episode != last_episode:
            perception.reset()
            last_episode = episode
        obs = {k: windows.current_obs(k)[i] for k in windows.keys}
        rows.append(flatten_features(perception(obs["state"] if bare else obs), keys))
    obs = np.stack(rows) if rows else np.zeros((0, 0), np.float32)
    return obs, windows.actions.astype(np.float32)

"""Turn loop features (an array or a dict of arrays) into the flat vectors MLP agents consume."""

from collections.abc import Sequence

import numpy as np


def flatten_features(features: np.ndarray | dict[str, np.ndarray],
                     keys: Sequence[str]) -> np.ndarray:
    """Concatenate ``features[k]`` for ``k`` in ``keys`` into float32 (D,).

    A bare array stands for ``{"state": array}``, which is what ``obs_mode="state"`` envs return.
    """
    if not isinstance(features, dict):
        features = {"state": features}
    missing = [k for k in keys if k not in features]
    if missing:
        raise KeyError(
            f"agent expects observation keys {list(keys)} but got {sorted(features)}; "
            "make the env with a matching obs_mode or retrain with obs_keys set to available keys")
    parts = [np.asarray(features[k], dtype=np.float32).reshape(-1) for k in keys]
    out = parts[0] if len(parts) == 1 else np.concatenate(parts)
    if not np.isfinite(out).all():
        raise ValueError(f"observation contains NaN or inf under keys {list(keys)}: {out}")
    return out

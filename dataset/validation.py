"""Episode validation and feature specs: what add_episode accepts, normalized to stored dtypes."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from dataset.episode import Episode
from dataset.errors import DatasetFormatError
from dataset.layout import OBS_PREFIX

__all__ = ["check_features_match", "episode_features", "json_roundtrip", "validate_episode"]

_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_OBS_DTYPES = {
    np.dtype(t)
    for t in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "float16", "float32", "float64")
}
# Per-step columns every parquet file has besides observation.* and action.
BOOKKEEPING_FEATURES: dict[str, dict[str, Any]] = {
    "reward": {"dtype": "float32", "shape": [], "storage": "parquet"},
    "frame_index": {"dtype": "int64", "shape": [], "storage": "parquet"},
    "timestamp": {"dtype": "float32", "shape": [], "storage": "parquet"},
    "episode_index": {"dtype": "int64", "shape": [], "storage": "parquet"},
    "index": {"dtype": "int64", "shape": [], "storage": "parquet"},
}
_FIX_KEYS = "record the same observation keys/shapes/dtypes in every episode, or use a new dataset"


def json_roundtrip(value: Any, what: str) -> Any:
    """Return `value` as it reads back from JSON; DatasetFormatError if it is not serializable."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise DatasetFormatError(
            f"{what} must be JSON-serializable (str/int/float/bool/None/list/dict, finite floats), "
            f"got {value!r} ({e}); convert numpy scalars/arrays with .item()/.tolist()."
        ) from e


def _check_obs(key: Any, value: Any, t: int) -> np.ndarray:
    """One observation array: valid key, supported dtype, leading dim T, finite floats."""
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise DatasetFormatError(
            f"observation key must be a str of letters, digits, '_', '.', '-' (it becomes a "
            f"column and folder name), got {key!r}; rename the key."
        )
    arr = np.asarray(value)
    if arr.dtype not in _OBS_DTYPES:
        raise DatasetFormatError(
            f"observations[{key!r}]: expected a bool/int/uint/float numpy array, got dtype "
            f"{arr.dtype}; convert it (e.g. .astype(np.float32))."
        )
    if arr.ndim == 0 or arr.shape[0] != t:
        raise DatasetFormatError(
            f"observations[{key!r}]: expected leading dim T={t} (one observation before each of "
            f"the T actions), got shape {arr.shape}; store obs[t] taken before actions[t], "
            "without the final observation after the last action."
        )
    _check_finite(arr, f"observations[{key!r}]")
    return arr


def _check_finite(arr: np.ndarray, what: str) -> None:
    """Reject NaN/inf in float arrays so training never sees them."""
    if arr.dtype.kind != "f":
        return
    bad = ~np.isfinite(arr)
    if bad.any():
        step = int(np.argwhere(bad)[0][0])
        raise DatasetFormatError(
            f"{what}: expected finite values, got {int(bad.sum())} NaN/inf value(s), first at "
            f"step {step}; fix the source (policy output, controller, sensor) or drop the episode."
        )


def _as_float32(value: Any, what: str, ndim: int) -> np.ndarray:
    """Cast a real numeric array of the given ndim to float32 with a clear error otherwise."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" or arr.ndim != ndim:
        want = "(T, Da)" if ndim == 2 else "(T,)"
        raise DatasetFormatError(
            f"{what}: expected a real numeric array of shape {want}, got dtype {arr.dtype} "
            f"shape {arr.shape}; pass np.asarray(..., dtype=np.float32) of that shape."
        )
    out = arr.astype(np.float32)
    _check_finite(out, what + " (as float32)")
    return out


def _check_flags(ep: Episode) -> tuple[int, bool, bool, bool]:
    """Seed must be an int and success/terminated/truncated bools (numpy scalars accepted)."""
    if isinstance(ep.seed, bool | np.bool_) or not isinstance(ep.seed, int | np.integer):
        raise DatasetFormatError(
            f"episode seed: expected the int passed to env.reset(seed=...), got {ep.seed!r}; "
            "always reset with an explicit seed so episodes can be recreated."
        )
    flags = (ep.success, ep.terminated, ep.truncated)
    for name, v in zip(("success", "terminated", "truncated"), flags, strict=True):
        if not isinstance(v, bool | np.bool_):
            raise DatasetFormatError(f"episode {name}: expected a bool, got {v!r}")
    return int(ep.seed), bool(ep.success), bool(ep.terminated), bool(ep.truncated)


def validate_episode(ep: Episode) -> Episode:
    """Check one episode's structure and values; return a copy with stored dtypes and plain types.

    actions -> (T, Da) float32, rewards -> (T,) float32, observations keep their dtype.
    """
    if not isinstance(ep, Episode):
        raise DatasetFormatError(f"expected a dataset.Episode, got {type(ep).__name__}")
    actions = _as_float32(ep.actions, "actions", 2)
    t = actions.shape[0]
    if t < 1:
        raise DatasetFormatError("episode has T=0 steps; expected T >= 1. Skip empty episodes.")
    rewards = _as_float32(ep.rewards, "rewards", 1)
    if rewards.shape[0] != t:
        raise DatasetFormatError(
            f"rewards: expected shape ({t},) (one reward per action), got {rewards.shape}"
        )
    if not isinstance(ep.observations, dict) or not ep.observations:
        raise DatasetFormatError(
            "observations: expected a non-empty dict key -> (T, ...) array, got "
            f"{ep.observations!r}"
        )
    obs = {k: _check_obs(k, v, t) for k, v in ep.observations.items()}
    seed, success, terminated, truncated = _check_flags(ep)
    if not isinstance(ep.extra, dict):
        raise DatasetFormatError(f"episode extra: expected a dict, got {type(ep.extra).__name__}")
    extra = json_roundtrip(ep.extra, "episode extra")
    return Episode(seed, obs, actions, rewards, success, terminated, truncated, extra)


def _storage(dtype: np.dtype, step_shape: tuple[int, ...]) -> str:
    """RGB uint8 images (H, W, 3) go to lossless video, everything else to parquet."""
    is_image = dtype == np.uint8 and len(step_shape) == 3 and step_shape[2] == 3
    return "video" if is_image else "parquet"


def episode_features(ep: Episode) -> dict[str, dict[str, Any]]:
    """info.json `features` for a validated episode: name -> {dtype, shape (per step), storage}."""
    feats: dict[str, dict[str, Any]] = {}
    for key, arr in ep.observations.items():
        shape = tuple(int(d) for d in arr.shape[1:])
        feats[OBS_PREFIX + key] = {
            "dtype": str(arr.dtype), "shape": list(shape), "storage": _storage(arr.dtype, shape)
        }
    da = int(ep.actions.shape[1])
    feats["action"] = {"dtype": "float32", "shape": [da], "storage": "parquet"}
    feats.update({k: dict(v) for k, v in BOOKKEEPING_FEATURES.items()})
    return feats


def _describe(feats: dict[str, dict[str, Any]], name: str) -> str:
    """Human form of one feature spec, e.g. 'float32 (10,)'."""
    spec = feats[name]
    return f"{spec['dtype']} {tuple(spec['shape'])}"


def check_features_match(
    got: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]
) -> None:
    """Raise DatasetFormatError if an episode's features differ from the dataset's (1st episode)."""
    if set(got) != set(expected):
        missing = sorted(set(expected) - set(got))
        unexpected = sorted(set(got) - set(expected))
        raise DatasetFormatError(
            f"episode features do not match the dataset's (fixed by its first episode): expected "
            f"{sorted(expected)}, got {sorted(got)} (missing {missing}, unexpected {unexpected}); "
            f"{_FIX_KEYS}."
        )
    for name in sorted(got):
        if _describe(got, name) != _describe(expected, name):
            raise DatasetFormatError(
                f"{name!r}: expected per-step dtype/shape {_describe(expected, name)} (fixed by "
                f"the dataset's first episode), got {_describe(got, name)}; {_FIX_KEYS}."
            )

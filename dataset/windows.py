"""Lazy training windows: frames stored once, observation history + action chunk gathered per batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dataset.episode import Episode
from dataset.errors import DatasetFormatError, DatasetIndexError, DatasetKeyError
from envs.errors import ConfigError

__all__ = ["WindowBatch", "Windows", "check_horizons", "make_windows", "window_indices"]


@dataclass
class WindowBatch:
    """B gathered samples (fresh arrays, safe to modify).

    observations[key] is (B, To, ...): obs[t-To+1 .. t]; actions is (B, Tp, Da) float32:
    actions[t .. t+Tp-1]; action_is_pad is (B, Tp) bool; episode_index is (B,) int64.
    """

    observations: dict[str, np.ndarray]
    actions: np.ndarray
    action_is_pad: np.ndarray
    episode_index: np.ndarray

    def __len__(self) -> int:
        """Batch size B."""
        return int(self.actions.shape[0])


class Windows:
    """One training sample per frame t of every episode, stored lazily.

    Each frame is stored once (`frames[key]`: (F, ...), `actions`: (F, Da) float32, episodes
    concatenated) next to index arrays into those rows; `batch(idx)` gathers windows for idx only.
    N = F samples; sample i's current frame is frame i. To = obs_horizon, Tp = action_horizon.
    obs_index (N, To): rows of obs[t-To+1 .. t], the episode's first frame repeated before its start.
    action_index (N, Tp): rows of actions[t .. t+Tp-1], its last action repeated past its end.
    action_is_pad (N, Tp) bool: True where the action was padding.
    episode_index (N,) int64: the dataset episode_index of each sample's episode.
    """

    def __init__(
        self,
        frames: dict[str, np.ndarray],
        actions: np.ndarray,
        episode_lengths: Sequence[int] | np.ndarray,
        obs_horizon: int = 1,
        action_horizon: int = 1,
        episode_indices: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        """Index `frames` (key -> (F, ...)) and `actions` (F, Da) of consecutive episodes.

        episode_indices labels each episode in `episode_index` (default 0..len-1).
        """
        lengths = np.asarray(episode_lengths, dtype=np.int64).reshape(-1)
        labels = np.arange(len(lengths)) if episode_indices is None else np.asarray(episode_indices)
        if labels.shape != lengths.shape:
            raise DatasetFormatError(
                f"episode_indices: expected one label per episode ({len(lengths)}), got {labels.shape}"
            )
        actions = np.asarray(actions, dtype=np.float32)
        if actions.ndim != 2:
            raise DatasetFormatError(f"actions: expected (F, Da), got shape {actions.shape}")
        n = int(lengths.sum())
        for name, arr in [*frames.items(), ("actions", actions)]:
            if arr.shape[:1] != (n,):
                raise DatasetFormatError(
                    f"{name}: expected {n} rows (sum of episode_lengths), got shape {arr.shape}"
                )
        self.frames, self.actions = dict(frames), actions
        self.obs_index, self.action_index, self.action_is_pad = window_indices(
            lengths, obs_horizon, action_horizon
        )
        self.episode_index = np.repeat(labels.astype(np.int64), lengths)

    def __len__(self) -> int:
        """Number of samples N (= total frames F)."""
        return int(self.episode_index.shape[0])

    def __repr__(self) -> str:
        """Sizes and horizons, not the arrays."""
        return (
            f"Windows(N={len(self)}, To={self.obs_horizon}, Tp={self.action_horizon}, "
            f"Da={self.action_dim}, keys={self.keys}, nbytes={self.nbytes})"
        )

    @property
    def keys(self) -> list[str]:
        """Observation keys held."""
        return list(self.frames)

    @property
    def obs_horizon(self) -> int:
        """To."""
        return int(self.obs_index.shape[1])

    @property
    def action_horizon(self) -> int:
        """Tp."""
        return int(self.action_index.shape[1])

    @property
    def action_dim(self) -> int:
        """Da."""
        return int(self.actions.shape[1])

    @property
    def nbytes(self) -> int:
        """Bytes held: frames once, actions once, and the index arrays."""
        arrays = [*self.frames.values(), self.actions, self.obs_index, self.action_index,
                  self.action_is_pad, self.episode_index]
        return sum(a.nbytes for a in arrays)

    def current_obs(self, key: str) -> np.ndarray:
        """Every sample's current-frame observation (N, ...): `frames[key]` itself, no copy."""
        return self.frames[key]

    def batch(self, idx: np.ndarray | Sequence[int] | slice) -> WindowBatch:
        """Gather the windows of samples `idx` ((B,) ints in [0, N), or a slice)."""
        rows = self._check_index(idx)
        obs_rows, act_rows = self.obs_index[rows], self.action_index[rows]
        return WindowBatch(
            observations={k: v[obs_rows] for k, v in self.frames.items()},
            actions=self.actions[act_rows],
            action_is_pad=self.action_is_pad[rows],
            episode_index=self.episode_index[rows],
        )

    def _check_index(self, idx: np.ndarray | Sequence[int] | slice) -> np.ndarray:
        """Resolve idx to (B,) int64 sample indices, with clear errors for bad types and ranges."""
        n = len(self)
        if isinstance(idx, slice):
            return np.arange(n)[idx]
        rows = np.asarray(idx)
        if rows.size == 0:
            rows = rows.astype(np.int64)
        if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
            raise DatasetIndexError(
                f"batch index: expected a 1-D int array (B,) or a slice, got {rows.dtype} "
                f"shape {rows.shape}; wrap a single index as [i]"
            )
        bad = rows[(rows < 0) | (rows >= n)]
        if bad.size:
            raise DatasetIndexError(
                f"batch index {int(bad[0])} out of range: valid range is [0, {n}) for {n} "
                f"samples ({bad.size} of {rows.size} indices out of range)"
            )
        return rows


def check_horizons(obs_horizon: int, action_horizon: int) -> None:
    """Raise ConfigError unless To >= 1 and Tp >= 1."""
    if obs_horizon < 1 or action_horizon < 1:
        raise ConfigError(
            f"obs_horizon and action_horizon must be >= 1, got {obs_horizon}, {action_horizon}"
        )


def window_indices(
    lengths: Sequence[int] | np.ndarray, obs_horizon: int, action_horizon: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices into the concatenated frames of episodes with the given lengths.

    Returns obs_idx (N, To), act_idx (N, Tp), act_is_pad (N, Tp); indices are clipped to each
    episode's own [start, start + length - 1], so windows never cross episode boundaries.
    """
    check_horizons(obs_horizon, action_horizon)
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    n = int(lengths.sum())
    ep_start = np.repeat(starts, lengths)[:, None]  # (N, 1)
    ep_last = np.repeat(lengths - 1, lengths)[:, None]  # (N, 1) last local frame
    t = np.arange(n, dtype=np.int64)[:, None] - ep_start  # (N, 1) local frame index
    obs_local = t + np.arange(-obs_horizon + 1, 1, dtype=np.int64)[None, :]
    act_local = t + np.arange(action_horizon, dtype=np.int64)[None, :]
    obs_idx = ep_start + np.clip(obs_local, 0, ep_last)
    act_idx = ep_start + np.minimum(act_local, ep_last)
    return obs_idx, act_idx, act_local > ep_last


def make_windows(
    episodes: Sequence[Episode],
    obs_horizon: int = 1,
    action_horizon: int = 1,
    keys: Sequence[str] | None = None,
    episode_indices: Sequence[int] | None = None,
) -> Windows:
    """Build Windows from in-memory episodes (keys: observation keys to keep, default all).

    Frames are concatenated once; episode_indices labels each episode (default 0..len-1).
    """
    if not episodes:
        raise DatasetFormatError("make_windows needs at least one episode, got none")
    keys = list(episodes[0].observations) if keys is None else list(keys)
    frames = {}
    for key in keys:
        missing = [i for i, ep in enumerate(episodes) if key not in ep.observations]
        if missing:
            raise DatasetKeyError(
                f"observation key {key!r} missing from episode(s) {missing[:5]}; "
                f"available: {sorted(episodes[missing[0]].observations)}"
            )
        frames[key] = np.concatenate([ep.observations[key] for ep in episodes])
    actions = np.concatenate([np.asarray(ep.actions, dtype=np.float32) for ep in episodes])
    lengths = [ep.length for ep in episodes]
    return Windows(frames, actions, lengths, obs_horizon, action_horizon, episode_indices)

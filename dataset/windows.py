"""Training windows: observation history + action chunk per frame, built with index arithmetic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dataset.episode import Episode

__all__ = ["Windows", "make_windows", "window_indices"]


@dataclass
class Windows:
    """Training samples: observation history and action chunk for every frame t of every episode.

    N = total frames, To = obs_horizon, Tp = action_horizon.
    observations[key] is (N, To, ...): obs[t-To+1 .. t], first frame repeated before episode start.
    actions is (N, Tp, Da): actions[t .. t+Tp-1], last action repeated past the episode end.
    action_is_pad is (N, Tp) bool, True where the action was padding.
    episode_index is (N,) int64: the dataset episode_index of each sample's episode.
    """

    observations: dict[str, np.ndarray]
    actions: np.ndarray
    action_is_pad: np.ndarray
    episode_index: np.ndarray

    def __len__(self) -> int:
        """Number of samples N."""
        return int(self.actions.shape[0])


def window_indices(
    lengths: Sequence[int] | np.ndarray, obs_horizon: int, action_horizon: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices into the concatenated frames of episodes with the given lengths.

    Returns obs_idx (N, To), act_idx (N, Tp), act_is_pad (N, Tp); indices are clipped to each
    episode's own [start, start + length - 1], so windows never cross episode boundaries.
    """
    if obs_horizon < 1 or action_horizon < 1:
        raise ValueError(
            f"obs_horizon and action_horizon must be >= 1, got {obs_horizon}, {action_horizon}"
        )
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
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

    episode_indices labels each episode in Windows.episode_index (default 0..len-1).
    """
    if not episodes:
        raise ValueError("make_windows needs at least one episode, got none")
    keys = list(episodes[0].observations) if keys is None else list(keys)
    labels = np.arange(len(episodes)) if episode_indices is None else np.asarray(episode_indices)
    lengths = np.array([ep.length for ep in episodes], dtype=np.int64)
    if labels.shape != (len(episodes),):
        raise ValueError(
            f"episode_indices: expected one label per episode ({len(episodes)}), got {labels.shape}"
        )
    obs_idx, act_idx, is_pad = window_indices(lengths, obs_horizon, action_horizon)
    obs = {}
    for key in keys:
        missing = [i for i, ep in enumerate(episodes) if key not in ep.observations]
        if missing:
            raise KeyError(
                f"observation key {key!r} missing from episode(s) {missing[:5]}; "
                f"available: {sorted(episodes[missing[0]].observations)}"
            )
        obs[key] = np.concatenate([ep.observations[key] for ep in episodes])[obs_idx]
    actions = np.concatenate([np.asarray(ep.actions, dtype=np.float32) for ep in episodes])
    return Windows(
        observations=obs,
        actions=actions[act_idx],
        action_is_pad=is_pad,
        episode_index=np.repeat(labels.astype(np.int64), lengths),
    )

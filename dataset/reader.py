"""DemoDataset: reads a dataset written by DatasetWriter (metadata at open, arrays on demand)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dataset.episode import Episode, EpisodeMeta
from dataset.errors import DatasetFormatError, DatasetKeyError
from dataset.layout import OBS_PREFIX, data_path, read_episodes, read_info, video_path
from dataset.parquet_io import column_to_numpy, read_table
from dataset.video_io import read_video
from dataset.windows import Windows, check_horizons

__all__ = ["DemoDataset"]


class DemoDataset:
    """Reads a dataset written by DatasetWriter into memory.

    Opening reads meta/ only; `episode(i)` and `windows()` load parquet (and, if load_videos,
    decode the lossless mp4s) on each call. Only committed episodes (lines of meta/episodes.jsonl)
    are visible, so leftovers of an interrupted write are ignored.
    """

    def __init__(
        self, root: str | Path, *, success_only: bool = False, load_videos: bool = True
    ) -> None:
        """Open `root`; keep only successful episodes if success_only; skip videos if asked."""
        self.root = Path(root)
        self.info: dict[str, Any] = read_info(self.root)
        self.env_id: str = self.info["env_id"]
        self.env_kwargs: dict[str, Any] = self.info["env_kwargs"]
        self.fps: float = float(self.info["fps"])
        self.load_videos, self.success_only = load_videos, success_only
        metas = read_episodes(self.root)
        if metas and not self.info.get("features"):
            raise DatasetFormatError(
                f"{self.root}/meta/info.json has no 'features' but episodes.jsonl lists "
                f"{len(metas)} episode(s); info.json is corrupt."
            )
        self.episodes: list[EpisodeMeta] = [m for m in metas if m.success or not success_only]

    def filtered(self, *, success_only: bool) -> DemoDataset:
        """The same dataset read with another ``success_only`` filter."""
        return DemoDataset(self.root, success_only=success_only, load_videos=self.load_videos)

    def __len__(self) -> int:
        """Number of episodes (after the success_only filter)."""
        return len(self.episodes)

    def __repr__(self) -> str:
        """Short summary: root, env and size."""
        return (
            f"DemoDataset({str(self.root)!r}, env_id={self.env_id!r}, episodes={len(self)}, "
            f"frames={self.num_frames})"
        )

    @property
    def features(self) -> dict[str, dict[str, Any]]:
        """info.json features: name -> {dtype, shape (per step), storage}; {} if no episodes yet."""
        return self.info.get("features") or {}

    @property
    def observation_keys(self) -> list[str]:
        """Observation keys (without 'observation.') that episode()/windows() return by default."""
        return [
            name[len(OBS_PREFIX):]
            for name, spec in self.features.items()
            if name.startswith(OBS_PREFIX) and (self.load_videos or spec["storage"] != "video")
        ]

    @property
    def num_frames(self) -> int:
        """Total steps over the (filtered) episodes."""
        return sum(m.length for m in self.episodes)

    @property
    def seeds(self) -> list[int]:
        """Reset seeds of the (filtered) episodes, in episode order."""
        return [m.seed for m in self.episodes]

    def _check_keys(self, keys: Sequence[str] | None) -> list[str]:
        """Resolve requested observation keys, with a clear error for unknown ones."""
        if keys is None:
            return self.observation_keys
        known = [n[len(OBS_PREFIX):] for n in self.features if n.startswith(OBS_PREFIX)]
        unknown = [k for k in keys if k not in known]
        if unknown:
            raise DatasetKeyError(f"unknown observation key(s) {unknown}; this dataset has {known}. Choose "
                                  "among those, or record the keys you need (e.g. camera images with "
                                  "collect_demos.py env.kwargs.obs_mode=rgb+proprio)")
        return list(keys)

    def _load_obs(self, meta: EpisodeMeta, key: str, table: Any) -> np.ndarray:
        """One observation array (T, ...) from the parquet table or the key's mp4."""
        spec = self.features[OBS_PREFIX + key]
        if spec["storage"] != "video":
            return column_to_numpy(table, OBS_PREFIX + key, spec)
        path = video_path(self.root, meta.index, key)
        try:
            frames = read_video(path)
        except OSError as e:
            raise DatasetFormatError(f"episode {meta.index}: {e}; re-collect it.") from e
        want = (meta.length, *spec["shape"])
        if frames.shape != want:
            raise DatasetFormatError(
                f"{path}: expected frames of shape {want}, got {frames.shape}; the video is "
                "truncated or corrupt, re-collect this episode."
            )
        return frames

    def episode(self, i: int, keys: Sequence[str] | None = None) -> Episode:
        """Load episode at position i of self.episodes (keys: observation keys, default all)."""
        meta = self.episodes[i]
        keys = self._check_keys(keys)
        path = data_path(self.root, meta.index)
        table = read_table(path)
        if table.num_rows != meta.length:
            raise DatasetFormatError(
                f"{path}: expected {meta.length} rows (episodes.jsonl length), got "
                f"{table.num_rows}; the file is corrupt, re-collect this episode."
            )
        return Episode(
            seed=meta.seed,
            observations={k: self._load_obs(meta, k, table) for k in keys},
            actions=column_to_numpy(table, "action", self.features["action"]),
            rewards=column_to_numpy(table, "reward", self.features["reward"]),
            success=meta.success,
            terminated=meta.terminated,
            truncated=meta.truncated,
            extra=dict(meta.extra),
        )

    def windows(
        self, obs_horizon: int = 1, action_horizon: int = 1, keys: Sequence[str] | None = None
    ) -> Windows:
        """Lazy Windows over all (filtered) episodes; only the requested keys are loaded/decoded.

        Frames are copied once into preallocated (F, ...) arrays, one episode at a time, so the
        peak memory is the frames plus one episode. An empty dataset gives N = 0 with the right
        trailing shapes.
        """
        keys = self._check_keys(keys)
        check_horizons(obs_horizon, action_horizon)  # before decoding anything
        lengths = [m.length for m in self.episodes]
        n = sum(lengths)
        frames = {k: self._empty_rows(OBS_PREFIX + k, n) for k in keys}
        actions = self._empty_rows("action", n)
        start = 0
        for i, t in enumerate(lengths):
            ep = self.episode(i, keys)
            for k in keys:
                frames[k][start:start + t] = ep.observations[k]
            actions[start:start + t] = ep.actions
            start += t
        labels = [m.index for m in self.episodes]
        return Windows(frames, actions, lengths, obs_horizon, action_horizon, labels)

    def _empty_rows(self, name: str, n: int) -> np.ndarray:
        """Uninitialised (n, *step shape) array for feature `name`; (n, 0) float32 if none yet."""
        spec = self.features.get(name, {"dtype": "float32", "shape": [0]})
        return np.empty((n, *spec["shape"]), dtype=np.dtype(spec["dtype"]))

"""DatasetWriter: appends validated episodes to a dataset folder, one atomic commit per episode."""

from __future__ import annotations

import json
import math
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from dataset.atomic import atomic_path, atomic_write_text, ensure_dir
from dataset.episode import Episode, EpisodeMeta
from dataset.errors import DatasetExistsError, DatasetFormatError
from dataset.layout import (
    CHUNKS_SIZE,
    DATA_PATH,
    FORMAT_NAME,
    FORMAT_VERSION,
    OBS_PREFIX,
    VIDEO_PATH,
    data_path,
    episodes_path,
    info_path,
    read_episodes,
    read_info,
    remove_orphans,
    video_path,
)
from dataset.parquet_io import episode_table, write_table
from dataset.validation import (
    check_features_match,
    episode_features,
    json_roundtrip,
    validate_episode,
)
from dataset.video_io import LOSSLESS_CODEC, encode_video

__all__ = ["DatasetWriter"]


def _check_args(env_id: Any, env_kwargs: Any, fps: Any) -> tuple[str, dict[str, Any], float]:
    """Validate writer settings; env_kwargs is returned as it will read back from info.json."""
    if not isinstance(env_id, str) or not env_id:
        raise DatasetFormatError(f"env_id: expected a non-empty gymnasium id str, got {env_id!r}")
    if not isinstance(env_kwargs, dict):
        raise DatasetFormatError(f"env_kwargs: expected a dict, got {type(env_kwargs).__name__}")
    ok = isinstance(fps, int | float | np.number) and not isinstance(fps, bool)
    if not ok or not math.isfinite(fps) or fps <= 0:
        raise DatasetFormatError(f"fps: expected a finite number > 0, got {fps!r}")
    return env_id, json_roundtrip(env_kwargs, "env_kwargs"), float(fps)


class DatasetWriter:
    """Writes episodes to `root` in the per-episode parquet + lossless mp4 layout (docs/dataset.md).

    An episode is in the dataset iff its line is in meta/episodes.jsonl; that file is replaced
    atomically only after the episode's files are durable, so a crash at any point leaves a
    readable dataset. One writer per root at a time.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        env_id: str,
        env_kwargs: dict[str, Any],
        fps: float,
        resume: bool = False,
    ) -> None:
        """Open `root` for writing: create it, or (resume=True) append to the episodes in it."""
        self.root = Path(root)
        self.env_id, self.env_kwargs, self.fps = _check_args(env_id, env_kwargs, fps)
        self._metas: list[EpisodeMeta] = []
        self._features: dict[str, dict[str, Any]] | None = None
        if info_path(self.root).is_file():
            self._open_existing(resume)
        elif self.root.is_dir() and any(self.root.iterdir()):
            raise DatasetExistsError(
                f"{self.root} exists, is not empty and is not a roboloop dataset (no "
                "meta/info.json); choose a new or empty directory for the dataset."
            )
        else:
            self._write_info(None)

    def _open_existing(self, resume: bool) -> None:
        """Reopen a dataset folder: refuse or resume if it has episodes, clean crash leftovers."""
        info = read_info(self.root)
        metas = read_episodes(self.root)
        if metas and not resume:
            raise DatasetExistsError(
                f"{self.root} already holds a dataset with {len(metas)} committed episode(s) "
                f"(env_id={info['env_id']!r}, listed in {episodes_path(self.root)}); pass "
                "resume=True to append, or choose a new directory."
            )
        if metas:
            self._check_same_env(info)  # before touching any file
        remove_orphans(self.root, {m.index for m in metas})
        if not metas:  # nothing committed yet: start afresh with this writer's settings
            self._write_info(None)
            return
        self._metas = metas
        self._features = info.get("features")

    def _check_same_env(self, info: dict[str, Any]) -> None:
        """On resume the env (and fps) must equal the dataset's so its episodes stay recreatable."""
        mine = {"env_id": self.env_id, "env_kwargs": self.env_kwargs, "fps": self.fps}
        for key, value in mine.items():
            stored = float(info[key]) if key == "fps" else info[key]
            if stored != value:
                raise DatasetFormatError(
                    f"cannot resume {self.root}: its {key} is {stored!r} but this writer was given "
                    f"{value!r}; pass the dataset's {key} (see {info_path(self.root)}) or write to "
                    "a new directory."
                )

    def _write_info(self, features: dict[str, dict[str, Any]] | None) -> None:
        """Atomically (re)write meta/info.json; features is None until the first episode."""
        info = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "env_id": self.env_id,
            "env_kwargs": self.env_kwargs,
            "fps": self.fps,
            "chunks_size": CHUNKS_SIZE,
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH,
            "features": features,
            "video": {"codec": LOSSLESS_CODEC, "pix_fmt": "rgb24", "lossless": True},
        }
        ensure_dir(self.root)
        atomic_write_text(info_path(self.root), json.dumps(info, indent=2) + "\n")

    @property
    def seeds(self) -> set[int]:
        """Seeds of the committed episodes (a collector skips these when resuming)."""
        return {m.seed for m in self._metas}

    @property
    def num_episodes(self) -> int:
        """Number of committed episodes."""
        return len(self._metas)

    @property
    def num_frames(self) -> int:
        """Total steps over the committed episodes."""
        return sum(m.length for m in self._metas)

    def add_episode(self, episode: Episode) -> int:
        """Validate `episode`, write its files atomically, commit it; return its episode_index."""
        ep = validate_episode(episode)
        features = episode_features(ep)
        if self._features is None:
            self._write_info(features)
        else:
            check_features_match(features, self._features)
        index = self._metas[-1].index + 1 if self._metas else 0
        self._write_files(ep, features, index)
        meta = EpisodeMeta(
            index=index, seed=ep.seed, length=ep.length, success=ep.success,
            episode_return=ep.episode_return, terminated=ep.terminated,
            truncated=ep.truncated, extra=ep.extra,
        )
        self._commit([*self._metas, meta])
        self._features = features
        return index

    def _write_files(self, ep: Episode, features: dict[str, dict[str, Any]], index: int) -> None:
        """Write parquet + videos to temp names, fsync, then os.replace all onto final names."""
        table = episode_table(ep, features, index, self.num_frames, self.fps)
        with ExitStack() as stack:  # on error every temp file is removed; on success all renamed
            write_table(stack.enter_context(atomic_path(data_path(self.root, index))), table)
            for key, arr in ep.observations.items():
                if features[OBS_PREFIX + key]["storage"] == "video":
                    tmp = stack.enter_context(atomic_path(video_path(self.root, index, key)))
                    encode_video(tmp, arr, self.fps, lossless=True)

    def _commit(self, metas: list[EpisodeMeta]) -> None:
        """Atomically replace meta/episodes.jsonl with `metas`; the episode exists from here on."""
        lines = [json.dumps(m.to_json_dict(), allow_nan=False) + "\n" for m in metas]
        atomic_write_text(episodes_path(self.root), "".join(lines))
        self._metas = metas

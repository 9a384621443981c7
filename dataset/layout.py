"""On-disk layout: file paths, meta/info.json and meta/episodes.jsonl parsing, orphan cleanup."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from dataset.atomic import is_temp_name
from dataset.episode import EpisodeMeta
from dataset.errors import DatasetFormatError

__all__ = [
    "CHUNKS_SIZE",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "OBS_PREFIX",
    "data_path",
    "episodes_path",
    "info_path",
    "read_episodes",
    "read_info",
    "remove_orphans",
    "video_path",
]

log = logging.getLogger(__name__)

FORMAT_NAME = "roboloop.dataset"
FORMAT_VERSION = 1
CHUNKS_SIZE = 1000
OBS_PREFIX = "observation."
DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
_EPISODE_FILE_RE = re.compile(r"^episode_(\d{6,})\.(parquet|mp4)$")
_META_KEYS = ("episode_index", "seed", "length", "success", "return", "terminated", "truncated")


def info_path(root: Path) -> Path:
    """Path of meta/info.json."""
    return root / "meta" / "info.json"


def episodes_path(root: Path) -> Path:
    """Path of meta/episodes.jsonl (the commit log: an episode exists iff its line is here)."""
    return root / "meta" / "episodes.jsonl"


def data_path(root: Path, index: int) -> Path:
    """Parquet file of episode `index` (chunks of CHUNKS_SIZE episodes)."""
    return root / DATA_PATH.format(episode_chunk=index // CHUNKS_SIZE, episode_index=index)


def video_path(root: Path, index: int, key: str) -> Path:
    """Mp4 of observation `key` (without the 'observation.' prefix) for episode `index`."""
    rel = VIDEO_PATH.format(
        episode_chunk=index // CHUNKS_SIZE, video_key=OBS_PREFIX + key, episode_index=index
    )
    return root / rel


def _load_json(path: Path) -> Any:
    """Parse a JSON file, turning decode errors into DatasetFormatError naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DatasetFormatError(
            f"{path} is not valid JSON ({e}); the file is corrupt or was not written by "
            "DatasetWriter. Restore it from a backup or re-collect the dataset."
        ) from e


def read_info(root: Path) -> dict[str, Any]:
    """Load and check meta/info.json: right format name and a version this code understands."""
    path = info_path(root)
    if not path.is_file():
        raise DatasetFormatError(
            f"{root} is not a roboloop dataset: {path} not found. Expected a folder written by "
            "dataset.DatasetWriter (e.g. by scripts/collect_demos.py) containing meta/info.json, "
            "meta/episodes.jsonl, data/ and videos/; check the path."
        )
    info = _load_json(path)
    if not isinstance(info, dict) or info.get("format") != FORMAT_NAME:
        got = info.get("format") if isinstance(info, dict) else type(info).__name__
        raise DatasetFormatError(
            f"{path}: expected format {FORMAT_NAME!r}, got {got!r}; this folder holds some other "
            "kind of dataset (a LeRobot dataset needs LeRobot's own loader)."
        )
    if info.get("version") != FORMAT_VERSION:
        raise DatasetFormatError(
            f"{path}: expected dataset format version {FORMAT_VERSION}, got "
            f"{info.get('version')!r}; use the roboloop version that wrote it or re-collect."
        )
    for key in ("env_id", "env_kwargs", "fps"):
        if key not in info:
            raise DatasetFormatError(f"{path}: required field {key!r} is missing; file corrupt?")
    return info


def _parse_line(line: str, lineno: int, path: Path) -> EpisodeMeta:
    """Turn one episodes.jsonl line into EpisodeMeta, with a clear error on bad content."""
    try:
        d = json.loads(line)
        missing = [k for k in _META_KEYS if k not in d]
        if missing:
            raise DatasetFormatError(f"missing fields {missing}")
        return EpisodeMeta(
            index=int(d["episode_index"]), seed=int(d["seed"]), length=int(d["length"]),
            success=bool(d["success"]), episode_return=float(d["return"]),
            terminated=bool(d["terminated"]), truncated=bool(d["truncated"]),
            extra=dict(d.get("extra") or {}),
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:  # DatasetFormatError too
        raise DatasetFormatError(
            f"{path} line {lineno}: expected a JSON object with fields {list(_META_KEYS)}, "
            f"got {line[:200]!r} ({e}); the file is corrupt (it is only ever replaced atomically)."
        ) from e


def read_episodes(root: Path) -> list[EpisodeMeta]:
    """Committed episodes from meta/episodes.jsonl in index order (empty list if no file yet)."""
    path = episodes_path(root)
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    metas = [_parse_line(s, i + 1, path) for i, s in enumerate(text.splitlines()) if s.strip()]
    indices = [m.index for m in metas]
    if len(set(indices)) != len(indices):
        raise DatasetFormatError(f"{path}: duplicate episode_index values; the file is corrupt.")
    return sorted(metas, key=lambda m: m.index)


def _is_orphan(path: Path, committed: set[int], in_meta: bool) -> bool:
    """True for temp files and (outside meta/) for episode files whose index is not committed."""
    if is_temp_name(path.name):
        return True
    if in_meta:
        return False
    m = _EPISODE_FILE_RE.match(path.name)
    return m is not None and int(m.group(1)) not in committed


def remove_orphans(root: Path, committed: set[int]) -> list[Path]:
    """Delete temp files and uncommitted episode files left by a crash; return what was removed."""
    removed: list[Path] = []
    for sub in ("meta", "data", "videos"):
        base = root / sub
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() and _is_orphan(path, committed, sub == "meta"):
                path.unlink()
                removed.append(path)
    if removed:
        log.warning(
            "removed %d orphan file(s) left by an interrupted write in %s: %s",
            len(removed), root, ", ".join(str(p.relative_to(root)) for p in removed[:10]),
        )
    return removed


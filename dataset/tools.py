"""Dataset tools: merge datasets, split one into parts, summarize one (counts, seeds, actions).

The tools read with DemoDataset and write with DatasetWriter, so every episode is validated
again. They write into a hidden folder next to the target and rename it onto the target at the
end, so a target appears complete or not at all. See "Tools" in docs/dataset.md.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from dataset.atomic import ensure_dir, fsync_dir, temp_path_for
from dataset.errors import (
    DatasetExistsError,
    DatasetMismatchError,
    DatasetSplitError,
    DuplicateSeedError,
)
from dataset.layout import OBS_PREFIX, data_path
from dataset.parquet_io import column_to_numpy, read_table
from dataset.reader import DemoDataset
from dataset.writer import DatasetWriter

__all__ = [
    "action_array",
    "assign_episodes",
    "copy_episodes",
    "describe",
    "is_discrete",
    "merge",
    "open_dataset",
    "split",
    "staged_dir",
]

Source = str | Path | DemoDataset
Part = float | Sequence[int]  # a fraction of the episodes, or explicit episode_index values


def open_dataset(source: Source) -> DemoDataset:
    """A DemoDataset that loads every key; a given DemoDataset keeps its success_only filter."""
    if isinstance(source, DemoDataset):
        return DemoDataset(source.root, success_only=source.success_only, load_videos=True)
    return DemoDataset(source)


@contextmanager
def staged_dir(target: str | Path) -> Iterator[Path]:
    """Yield an empty hidden folder next to `target`; on success rename it onto `target`.

    `target` must be missing or an empty folder. On an exception the hidden folder is deleted and
    `target` is left as it was, so a tool's output appears complete or not at all.
    """
    final = Path(target)
    if final.exists() and not (final.is_dir() and not any(final.iterdir())):
        raise DatasetExistsError(
            f"{final} already exists and is not empty; the tools never overwrite or append. "
            "Choose a new folder (or delete this one)."
        )
    ensure_dir(final.parent)
    tmp = temp_path_for(final)
    tmp.mkdir()
    try:
        yield tmp
        os.replace(tmp, final)  # POSIX rename replaces a missing or empty folder
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(final.parent)


def copy_episodes(source: DemoDataset, positions: Sequence[int], root: Path) -> DatasetWriter:
    """Write episodes at `positions` of `source` (in that order) to a new dataset at `root`.

    Returns the writer, which can go on adding episodes (DAgger's aggregate grows this way).
    """
    writer = DatasetWriter(root, env_id=source.env_id, env_kwargs=source.env_kwargs, fps=source.fps)
    for i in positions:
        writer.add_episode(source.episode(i))
    return writer


# --- merge -------------------------------------------------------------------------------------


def _feature_diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Human list of how two `features` dicts differ."""
    out = [f"{k} only in the first" for k in sorted(set(a) - set(b))]
    out += [f"{k} only in the second" for k in sorted(set(b) - set(a))]
    for k in sorted(set(a) & set(b)):
        if a[k] != b[k]:
            out.append(f"{k}: {a[k]['dtype']} {tuple(a[k]['shape'])} vs "
                       f"{b[k]['dtype']} {tuple(b[k]['shape'])}")
    return "; ".join(out)


def _check_compatible(datasets: Sequence[DemoDataset]) -> None:
    """All sources share env_id, env_kwargs, fps and (where they have episodes) features."""
    ref = datasets[0]
    with_features = [ds for ds in datasets if ds.features]
    for ds in datasets[1:]:
        for field in ("env_id", "env_kwargs", "fps"):
            mine, theirs = getattr(ref, field), getattr(ds, field)
            if mine != theirs:
                raise DatasetMismatchError(
                    f"cannot merge: {field} differs: {ref.root} has {mine!r}, {ds.root} has "
                    f"{theirs!r}; merge only datasets recorded in the same env at the same fps."
                )
    for ds in with_features[1:]:
        if ds.features != with_features[0].features:
            raise DatasetMismatchError(
                f"cannot merge: features differ between {with_features[0].root} and {ds.root} "
                f"({_feature_diff(with_features[0].features, ds.features)}); merge only datasets "
                "with the same observation keys, dtypes and shapes and the same action dim."
            )


def _check_unique_seeds(datasets: Sequence[DemoDataset]) -> None:
    """A seed in two sources is most likely the same episode collected twice."""
    owner: dict[int, Path] = {}
    dups: list[tuple[int, Path, Path]] = []
    for ds in datasets:
        for seed in sorted(set(ds.seeds)):
            if seed in owner:
                dups.append((seed, owner[seed], ds.root))
            else:
                owner[seed] = ds.root
    if dups:
        seed, a, b = dups[0]
        raise DuplicateSeedError(
            f"cannot merge: {len(dups)} seed(s) appear in more than one source (e.g. seed {seed} "
            f"in {a} and in {b}); a seed recreates the same initial state, so these are probably "
            "the same episodes twice. Drop one source, or pass allow_duplicate_seeds=True "
            "(allow_duplicate_seeds=true on the command line) to keep both."
        )


def merge(
    sources: Sequence[Source], target: str | Path, *, allow_duplicate_seeds: bool = False
) -> DemoDataset:
    """Concatenate the episodes of `sources`, in order, into a new dataset at `target`.

    Sources must share env_id, env_kwargs, fps and features. Episodes are re-indexed 0..N-1 and
    keep their seed, flags and extra. A seed found in two sources is refused unless
    allow_duplicate_seeds.
    """
    datasets = [open_dataset(s) for s in sources]
    if not datasets:
        raise DatasetMismatchError("merge needs at least one source dataset, got none")
    _check_compatible(datasets)
    if not allow_duplicate_seeds:
        _check_unique_seeds(datasets)
    with staged_dir(target) as tmp:
        ref = datasets[0]
        writer = DatasetWriter(tmp, env_id=ref.env_id, env_kwargs=ref.env_kwargs, fps=ref.fps)
        for ds in datasets:
            for i in range(len(ds)):
                writer.add_episode(ds.episode(i))
    return DemoDataset(target)


# --- split -------------------------------------------------------------------------------------


def _check_part(name: str, part: Any, known: set[int]) -> float | list[int]:
    """One part of a split: a fraction in (0, 1] or a non-empty list of known episode indices."""
    if isinstance(part, int | float) and not isinstance(part, bool):
        if not 0 < part <= 1:
            raise DatasetSplitError(f"part {name!r}: a fraction must be in (0, 1], got {part!r}")
        return float(part)
    items = list(part) if isinstance(part, Sequence | np.ndarray) and not isinstance(part, str) else []
    if items and all(isinstance(i, int | np.integer) and not isinstance(i, bool) for i in items):
        unknown = sorted(int(i) for i in items if int(i) not in known)
        if unknown:
            raise DatasetSplitError(
                f"part {name!r}: episode indices {unknown[:10]} are not in the dataset (its "
                f"episode_index values are {min(known, default=None)}..{max(known, default=None)}"
                "); see meta/episodes.jsonl."
            )
        return [int(i) for i in items]
    raise DatasetSplitError(
        f"part {name!r}: expected a fraction in (0, 1] or a non-empty list of episode_index "
        f"values, got {part!r}; e.g. {{'train': 0.9, 'valid': 0.1}} or {{'test': [0, 5, 7]}}."
    )


def _fraction_counts(fractions: dict[str, float], m: int) -> dict[str, int]:
    """Sizes of the fraction parts out of m episodes, by largest remainder (sum 1 -> exactly m)."""
    total = sum(fractions.values())
    if total > 1 + 1e-9:
        raise DatasetSplitError(
            f"the fractions {fractions} sum to {total:g}; they must sum to at most 1 (the share "
            "of the episodes that no explicit list claims)."
        )
    quota = {k: f * m for k, f in fractions.items()}
    counts = {k: math.floor(q + 1e-9) for k, q in quota.items()}
    by_remainder = sorted(fractions, key=lambda k: counts[k] - quota[k])
    for k in by_remainder[: round(min(total, 1.0) * m) - sum(counts.values())]:
        counts[k] += 1
    empty = [k for k, c in counts.items() if c == 0]
    if empty:
        raise DatasetSplitError(
            f"parts {empty} would get 0 of the {m} episodes left for fractions; raise their "
            "fractions or list their episodes explicitly."
        )
    return counts


def assign_episodes(
    episode_indices: Sequence[int], parts: Mapping[str, Part], seed: int = 0
) -> dict[str, list[int]]:
    """Divide whole episodes (by episode_index) into named parts; returns sorted indices per part.

    A part is a list of episode indices (taken first) or a fraction of the episodes that no list
    claims (shuffled with `seed`). No episode is in two parts; fractions that sum to 1 cover every
    remaining episode.
    """
    if not parts:
        raise DatasetSplitError("a split needs at least one part, e.g. {'train': 0.9, 'valid': 0.1}")
    known = {int(i) for i in episode_indices}
    checked = {str(k): _check_part(str(k), v, known) for k, v in parts.items()}
    out: dict[str, list[int]] = {}
    owner: dict[int, str] = {}
    for name, part in checked.items():
        if not isinstance(part, list):
            continue
        for i in part:
            if i in owner:
                raise DatasetSplitError(
                    f"episode {i} is listed in part {owner[i]!r} and again in part {name!r}; an "
                    "episode belongs to exactly one part."
                )
            owner[i] = name
        out[name] = sorted(part)
    rest = np.array(sorted(known - set(owner)), dtype=np.int64)
    fractions = {k: v for k, v in checked.items() if isinstance(v, float)}
    if fractions:
        counts = _fraction_counts(fractions, len(rest))
        shuffled = np.random.default_rng(seed).permutation(rest)
        start = 0
        for name, count in counts.items():
            out[name] = sorted(int(i) for i in shuffled[start:start + count])
            start += count
    return {name: out[name] for name in checked}


def split(source: Source, targets: Mapping[str | Path, Part], *, seed: int = 0) -> dict[str, list[int]]:
    """Write each part of `source` to its own new dataset; returns target -> source episode_index.

    targets: new folder -> fraction or list of episode_index values (see `assign_episodes`).
    Whole episodes only; each target is re-indexed from 0 and keeps the source's order. All
    targets are written, or none.
    """
    if len({Path(t).resolve() for t in targets}) != len(targets):
        raise DatasetSplitError(f"split targets must be different folders, got {sorted(map(str, targets))}")
    ds = open_dataset(source)
    parts = assign_episodes([m.index for m in ds.episodes], {str(k): v for k, v in targets.items()},
                            seed)
    position = {m.index: i for i, m in enumerate(ds.episodes)}
    with ExitStack() as stack:
        staged = {name: stack.enter_context(staged_dir(name)) for name in parts}
        for name, indices in parts.items():
            copy_episodes(ds, [position[i] for i in indices], staged[name])
    return parts


# --- summary -----------------------------------------------------------------------------------


def action_array(ds: DemoDataset) -> np.ndarray:
    """(F, Da) float32 actions of every (filtered) episode; reads only the parquet action column."""
    spec = ds.features.get("action", {"dtype": "float32", "shape": [0]})
    rows = [
        column_to_numpy(read_table(data_path(ds.root, m.index), ["action"]), "action", spec)
        for m in ds.episodes
    ]
    return np.concatenate(rows) if rows else np.zeros((0, *spec["shape"]), np.float32)


def is_discrete(actions: np.ndarray) -> bool:
    """True for (F, 1) integer-valued actions: how the recorder stores a Discrete action index."""
    return (actions.ndim == 2 and actions.shape[1] == 1 and len(actions) > 0
            and bool(np.all(actions == np.round(actions))))


def _action_stats(actions: np.ndarray) -> dict[str, Any]:
    """Per-dimension mean/std/min/max over all frames; value counts for discrete actions."""
    stats: dict[str, Any] = {"dim": int(actions.shape[1]), "discrete": is_discrete(actions)}
    if len(actions):
        a = actions.astype(np.float64)
        stats.update(mean=a.mean(0).tolist(), std=a.std(0).tolist(), min=a.min(0).tolist(),
                     max=a.max(0).tolist())
    if stats["discrete"]:
        values, counts = np.unique(actions[:, 0].astype(np.int64), return_counts=True)
        stats["counts"] = {str(v): int(c) for v, c in zip(values, counts, strict=True)}
    return stats


def describe(source: Source) -> dict[str, Any]:
    """JSON-ready summary: env, episode count, lengths, success, seeds, observation specs, actions."""
    ds = source if isinstance(source, DemoDataset) else DemoDataset(source, load_videos=False)
    lengths = np.array([m.length for m in ds.episodes], dtype=np.int64)
    n, wins = len(ds), sum(m.success for m in ds.episodes)
    return {
        "root": str(ds.root),
        "env_id": ds.env_id,
        "env_kwargs": ds.env_kwargs,
        "fps": ds.fps,
        "episodes": n,
        "frames": int(lengths.sum()),
        "length": {"min": int(lengths.min()), "mean": float(lengths.mean()),
                   "max": int(lengths.max())} if n else None,
        "success": {"count": wins, "rate": wins / n if n else None},
        "seeds": ds.seeds,
        "observations": {
            name[len(OBS_PREFIX):]: spec for name, spec in ds.features.items()
            if name.startswith(OBS_PREFIX)
        },
        "action": _action_stats(action_array(ds)),
    }

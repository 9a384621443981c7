"""Minari (Farama) datasets: export a roboloop dataset that ``minari.load_dataset`` opens, and back.

Minari keeps T+1 observations per episode (also the one after the last action); roboloop keeps
the T before each action. The export repeats the last observation, the import drops it, so a
round trip returns every array unchanged. Images are stored raw (``jpeg_encoding=False``: exact).
minari and gymnasium are imported only when these functions run.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from dataset.episode import Episode
from dataset.errors import DatasetFormatError, ExportDependencyError
from dataset.layout import FORMAT_NAME, FORMAT_VERSION, OBS_PREFIX
from dataset.reader import DemoDataset
from dataset.tools import Source, open_dataset, staged_dir
from dataset.writer import DatasetWriter

__all__ = ["export_minari", "import_minari", "minari_folder"]


def _minari() -> Any:
    """The minari package, or an error that names what to install."""
    try:
        import minari
    except ImportError as e:
        raise ExportDependencyError(
            f'Minari export needs minari with HDF5 support ({e}); pip install "minari[hdf5]>=0.5.4" '
            "(a roboloop dependency: reinstall with pip install -e .)."
        ) from e
    return minari


def minari_folder(dataset_id: str, root: str | Path | None = None) -> Path:
    """Folder of a Minari dataset id: under `root`, else Minari's own (MINARI_DATASETS_PATH)."""
    minari = _minari()
    from minari.dataset.minari_dataset import parse_dataset_id
    from minari.storage import get_dataset_path

    try:
        parse_dataset_id(dataset_id)
    except ValueError as e:
        raise DatasetFormatError(
            f"bad Minari dataset id {dataset_id!r}: expected (namespace/)name-v<version>, e.g. "
            f"'roboloop/push_cube-expert-v0' ({e}); minari {minari.__version__}."
        ) from e
    return Path(root) / dataset_id if root is not None else get_dataset_path(dataset_id)


def _space(spec: dict[str, Any]) -> Any:
    """A Gymnasium space for one feature spec (dtype, per-step shape); uint8 images span 0..255."""
    from gymnasium import spaces

    dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
    if dtype == np.bool_:
        return spaces.MultiBinary(list(shape) or 1)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return spaces.Box(int(info.min), int(info.max), shape=shape, dtype=dtype)
    return spaces.Box(-np.inf, np.inf, shape=shape, dtype=dtype)


def _env_spec(env_id: str, env_kwargs: dict[str, Any]) -> Any:
    """Gymnasium's spec for env_id with the dataset's kwargs, if the id is registered (else None).

    With it, ``MinariDataset.recover_environment()`` makes the env; roboloop ids are registered
    once ``envs`` is imported. This reads gymnasium's registry; it never imports roboloop envs.
    """
    from gymnasium.envs.registration import registry

    spec = registry.get(env_id)
    return None if spec is None else dataclasses.replace(spec, kwargs={**spec.kwargs, **env_kwargs})


def _buffer(i: int, ep: Episode) -> Any:
    """One episode as a Minari EpisodeBuffer: T+1 observations (last repeated), T of the rest."""
    from minari.data_collector import EpisodeBuffer

    ends = np.zeros(ep.length, dtype=bool)
    return EpisodeBuffer(
        id=i, seed=ep.seed,
        observations={k: np.concatenate([v, v[-1:]]) for k, v in ep.observations.items()},
        actions=ep.actions, rewards=ep.rewards,
        terminations=np.where(np.arange(ep.length) == ep.length - 1, ep.terminated, ends),
        truncations=np.where(np.arange(ep.length) == ep.length - 1, ep.truncated, ends),
        infos={},  # Minari readers expect an infos group
    )


def export_minari(source: Source, dataset_id: str, *, root: str | Path | None = None) -> Path:
    """Write every (filtered) episode of `source` as a new Minari dataset; returns its folder.

    The folder is ``root/<dataset_id>`` (``minari.load_dataset(dataset_id)`` finds it when
    MINARI_DATASETS_PATH=root), or Minari's datasets folder if root is None.
    """
    minari = _minari()
    from gymnasium import spaces
    from minari.dataset.minari_storage import MinariStorage

    ds, folder = open_dataset(source), minari_folder(dataset_id, root)
    if not ds.features:
        raise DatasetFormatError(f"{ds.root} has no episodes; there is nothing to export.")
    obs = {n[len(OBS_PREFIX):]: _space(s) for n, s in ds.features.items() if n.startswith(OBS_PREFIX)}
    with staged_dir(folder) as tmp:
        storage = MinariStorage.new(
            tmp / "data", observation_space=spaces.Dict(obs),
            action_space=_space(ds.features["action"]), env_spec=_env_spec(ds.env_id, ds.env_kwargs),
            data_format="hdf5", jpeg_encoding=False,
        )
        storage.update_metadata({
            "dataset_id": dataset_id, "minari_version": minari.__version__,
            "description": f"roboloop dataset {ds.root} ({ds.env_id})",
            "roboloop": {"format": FORMAT_NAME, "version": FORMAT_VERSION, "env_id": ds.env_id,
                         "env_kwargs": ds.env_kwargs, "fps": ds.fps, "features": ds.features,
                         "final_observation": "repeats the last observation"},
        })
        for i in range(len(ds)):  # one episode in memory at a time
            storage.update_episodes([_buffer(i, ds.episode(i))])
        storage.update_episode_metadata([
            {"success": m.success, "terminated": m.terminated, "truncated": m.truncated,
             "episode_index": m.index, "extra": json.dumps(m.extra)} for m in ds.episodes
        ])
    return folder


def _read_env(meta: dict[str, Any], where: Path, fps: float | None) -> tuple[str, dict, float]:
    """Env id/kwargs from the roboloop metadata or the env spec; fps from the argument or metadata."""
    info, spec = meta.get("roboloop") or {}, meta.get("env_spec")
    env_id, env_kwargs = info.get("env_id"), info.get("env_kwargs")
    if env_id is None and spec is not None:
        env_id, env_kwargs = json.loads(spec)["id"], json.loads(spec).get("kwargs")  # foreign data
    fps = fps if fps is not None else info.get("fps")
    if env_id is None or fps is None:
        raise DatasetFormatError(
            f"{where} records no env id or no control frequency (got env {env_id!r}, fps {fps!r}); "
            "pass fps=<steps/s>, and export datasets with an env_spec."
        )
    return env_id, dict(env_kwargs or {}), fps


def _episode(ep: Any, meta: dict[str, Any], where: str) -> Episode:
    """A Minari EpisodeData (+ its metadata) as an Episode: the final observation dropped."""
    if meta.get("seed") is None:
        raise DatasetFormatError(
            f"{where}: no reset seed recorded; a roboloop episode needs the seed that recreates "
            "its initial state (Minari stores it when data is collected with seeded resets)."
        )
    obs = ep.observations if isinstance(ep.observations, dict) else {"state": ep.observations}
    actions = np.asarray(ep.actions)
    return Episode(
        seed=int(meta["seed"]),
        observations={k: np.asarray(v)[:-1] for k, v in obs.items()},
        actions=actions.reshape(len(actions), -1),  # a Discrete action becomes (T, 1)
        rewards=np.asarray(ep.rewards),
        success=bool(meta.get("success", False)),
        terminated=bool(meta.get("terminated", ep.terminations[-1])),
        truncated=bool(meta.get("truncated", ep.truncations[-1])),
        extra=json.loads(meta["extra"]) if "extra" in meta else {},
    )


def import_minari(
    dataset: str | Path, target: str | Path, *, root: str | Path | None = None,
    fps: float | None = None,
) -> DemoDataset:
    """Read a Minari dataset (a folder holding ``data/``, or a dataset id) into a new dataset.

    fps: the control frequency, needed only if the Minari dataset does not record it.
    """
    minari = _minari()
    folder = Path(dataset)
    if not (folder / "data").is_dir():
        folder = minari_folder(str(dataset), root)
    try:
        mds = minari.MinariDataset(folder / "data")
    except (ValueError, AssertionError, OSError) as e:
        raise DatasetFormatError(f"could not open a Minari dataset at {folder} ({e}).") from e
    env_id, env_kwargs, fps = _read_env(mds.storage.metadata, folder, fps)
    metas = list(mds.storage.get_episode_metadata(mds.episode_indices))
    with staged_dir(target) as tmp:
        writer = DatasetWriter(tmp, env_id=env_id, env_kwargs=env_kwargs, fps=fps)
        for ep, meta in zip(mds.iterate_episodes(), metas, strict=True):
            writer.add_episode(_episode(ep, meta, f"{folder} episode {ep.id}"))
    return DemoDataset(target)

"""robomimic-style HDF5: one file, ``data/demo_<i>/obs/<key>``, ``actions``, ``rewards``, ``dones``.

`export_robomimic` writes it atomically (temp file + rename); `import_robomimic` reads it back
into a roboloop dataset with every array unchanged. The layout is in docs/dataset.md ("Tools").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from dataset.atomic import atomic_path
from dataset.episode import Episode, EpisodeMeta
from dataset.errors import DatasetExistsError, DatasetFormatError
from dataset.layout import FORMAT_NAME, FORMAT_VERSION
from dataset.reader import DemoDataset
from dataset.tools import Part, Source, assign_episodes, open_dataset, staged_dir
from dataset.writer import DatasetWriter

__all__ = ["export_robomimic", "import_robomimic"]

GYM_ENV_TYPE = 2  # robomimic's EnvType.GYM_TYPE: env_args name a Gymnasium id
_NEEDS_SEED = (
    "import_robomimic reads files written by export_robomimic: a roboloop episode needs the reset "
    "seed of every demo (attribute 'seed'), which other robomimic files do not record"
)


def _write_demo(group: h5py.Group, meta: EpisodeMeta, ep: Episode, next_obs: bool) -> None:
    """One episode as demo_<i>: obs/next_obs per key, actions, rewards, dones, roboloop attrs."""
    group.attrs.update({
        "num_samples": ep.length, "seed": ep.seed, "success": ep.success,
        "terminated": ep.terminated, "truncated": ep.truncated, "episode_index": meta.index,
        "extra": json.dumps(ep.extra),
    })
    obs = group.create_group("obs", track_order=True)
    for key, arr in ep.observations.items():
        obs.create_dataset(key, data=arr)
    if next_obs:  # obs t+1; the last step repeats the last obs (the final one is not recorded)
        nxt = group.create_group("next_obs", track_order=True)
        for key, arr in ep.observations.items():
            nxt.create_dataset(key, data=np.concatenate([arr[1:], arr[-1:]]))
    group.create_dataset("actions", data=ep.actions)
    group.create_dataset("rewards", data=ep.rewards)
    dones = np.zeros(ep.length, dtype=np.int64)
    dones[-1] = 1
    group.create_dataset("dones", data=dones)


def export_robomimic(
    source: Source,
    path: str | Path,
    *,
    split: Mapping[str, Part] | None = None,
    seed: int = 0,
    next_obs: bool = True,
) -> Path:
    """Write every (filtered) episode of `source` to a new robomimic-style HDF5 file at `path`.

    split: mask name -> fraction or list of episode_index values (`dataset.tools.assign_episodes`),
    stored as ``mask/<name>`` lists of demo names (robomimic's filter keys, e.g. train/valid).
    next_obs: also write ``next_obs`` (robomimic loads it unless hdf5_load_next_obs=False).
    """
    ds, path = open_dataset(source), Path(path)
    if path.exists():
        raise DatasetExistsError(f"{path} already exists; choose a new file name (or delete it).")
    masks = assign_episodes([m.index for m in ds.episodes], split, seed) if split else {}
    demo = {m.index: f"demo_{i}" for i, m in enumerate(ds.episodes)}
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        data = f.create_group("data", track_order=True)
        data.attrs["env_args"] = json.dumps(
            {"env_name": ds.env_id, "type": GYM_ENV_TYPE, "env_kwargs": ds.env_kwargs})
        data.attrs["roboloop"] = json.dumps({
            "format": FORMAT_NAME, "version": FORMAT_VERSION, "fps": ds.fps,
            "features": ds.features, "next_obs_last_step": "repeats the last obs",
        })
        for i, meta in enumerate(ds.episodes):
            _write_demo(data.create_group(demo[meta.index]), meta, ds.episode(i), next_obs)
        data.attrs["total"] = ds.num_frames
        for name, indices in masks.items():
            f.create_dataset(f"mask/{name}", data=np.array([demo[i] for i in indices], dtype="S"))
    return path


def _json_attr(attrs: Any, key: str, where: str) -> Any:
    """A JSON string attribute, with an error naming the file and attribute."""
    try:
        return json.loads(attrs[key])
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise DatasetFormatError(
            f"{where}: expected a JSON string attribute {key!r} ({e!r}); robomimic files carry "
            "data.attrs['env_args'], and export_robomimic also writes 'roboloop' and 'extra'."
        ) from e


def _read_env(f: h5py.File, path: Path, fps: float | None) -> tuple[str, dict[str, Any], float]:
    """Env id, env kwargs (data.attrs['env_args']) and fps (argument, else data.attrs['roboloop'])."""
    if "data" not in f:
        raise DatasetFormatError(f"{path}: no 'data' group; this is not a robomimic-style file.")
    env_args = _json_attr(f["data"].attrs, "env_args", f"{path}:data")
    info = _json_attr(f["data"].attrs, "roboloop", f"{path}:data") if "roboloop" in f["data"].attrs else {}
    fps = fps if fps is not None else info.get("fps")
    if fps is None:
        raise DatasetFormatError(f"{path} does not record the control frequency; pass fps=<steps/s>.")
    return env_args["env_name"], env_args.get("env_kwargs") or {}, fps


def _demo_names(f: h5py.File, path: Path, mask: str | None) -> list[str]:
    """Demo group names in demo-number order; only those in ``mask/<mask>`` if a mask is given."""
    names = list(f["data"].keys())
    if mask is not None:
        masks = list(f["mask"].keys()) if "mask" in f else []
        if mask not in masks:
            raise DatasetFormatError(f"{path}: no mask {mask!r}; it has masks {masks}.")
        names = [n.decode() for n in f["mask"][mask][()]]
    try:
        return sorted(names, key=lambda n: int(n.removeprefix("demo_")))
    except ValueError as e:
        raise DatasetFormatError(f"{path}: expected groups named demo_<i>, got {names[:5]}") from e


def _read_demo(g: h5py.Group, where: str) -> Episode:
    """One demo group back into an Episode (arrays exactly as stored)."""
    missing = [k for k in ("obs", "actions", "rewards") if k not in g]
    missing += [f"attribute {k!r}" for k in ("seed",) if k not in g.attrs]
    if missing:
        raise DatasetFormatError(f"{where}: missing {missing}; {_NEEDS_SEED}.")
    a = g.attrs
    return Episode(
        seed=int(a["seed"]),
        observations={k: g["obs"][k][()] for k in g["obs"]},
        actions=g["actions"][()],
        rewards=g["rewards"][()],
        success=bool(a.get("success", False)),
        terminated=bool(a.get("terminated", False)),
        truncated=bool(a.get("truncated", False)),
        extra=_json_attr(a, "extra", where) if "extra" in a else {},
    )


def import_robomimic(
    path: str | Path, target: str | Path, *, mask: str | None = None, fps: float | None = None
) -> DemoDataset:
    """Read a robomimic-style HDF5 file into a new roboloop dataset at `target`.

    mask: import only the demos of ``mask/<mask>`` (e.g. "valid"). fps: the control frequency,
    needed only if the file does not record it. Demos are written in demo-number order.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(f"{path} not found; expected an HDF5 file from export_robomimic.")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DatasetFormatError(f"could not open {path} as HDF5 ({e}); is it an .hdf5 file?") from e
    with f, staged_dir(target) as tmp:
        env_id, env_kwargs, fps = _read_env(f, path, fps)
        writer = DatasetWriter(tmp, env_id=env_id, env_kwargs=env_kwargs, fps=fps)
        for name in _demo_names(f, path, mask):
            writer.add_episode(_read_demo(f["data"][name], f"{path}:data/{name}"))
    return DemoDataset(target)

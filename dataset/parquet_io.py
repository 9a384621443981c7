"""Per-step parquet tables: episode arrays <-> arrow columns (vectors as fixed-size lists)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataset.episode import Episode
from dataset.errors import DatasetFormatError
from dataset.layout import OBS_PREFIX

__all__ = ["column_to_numpy", "episode_table", "read_table", "write_table"]


def _to_column(arr: np.ndarray) -> pa.Array:
    """(T, ...) array -> arrow column: scalars plain, others a fixed-size list of the flat step."""
    t = arr.shape[0]
    if arr.ndim == 1:
        return pa.array(arr)
    flat = np.ascontiguousarray(arr).reshape(t, -1)
    size = flat.shape[1]
    return pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), size)


def episode_table(
    ep: Episode, features: dict[str, dict[str, Any]], index: int, first_frame: int, fps: float
) -> pa.Table:
    """Parquet table of one validated episode: one row per step, video features left out.

    Columns: observation.<key>, action, reward, frame_index, timestamp (= frame_index / fps),
    episode_index and index (global frame index, = frames in earlier episodes + frame_index).
    """
    t = ep.length
    frame = np.arange(t, dtype=np.int64)
    cols: dict[str, pa.Array] = {}
    for key, arr in ep.observations.items():
        if features[OBS_PREFIX + key]["storage"] == "parquet":
            cols[OBS_PREFIX + key] = _to_column(arr)
    cols["action"] = _to_column(ep.actions)
    cols["reward"] = pa.array(ep.rewards)
    cols["frame_index"] = pa.array(frame)
    cols["timestamp"] = pa.array((frame / fps).astype(np.float32))
    cols["episode_index"] = pa.array(np.full(t, index, dtype=np.int64))
    cols["index"] = pa.array(frame + first_frame)
    return pa.table(cols)


def write_table(path: Path, table: pa.Table) -> None:
    """Write a table to a parquet file (call inside atomic_path for crash safety)."""
    pq.write_table(table, path)


def read_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    """Read (some columns of) a parquet file; DatasetFormatError naming the file on failure."""
    try:
        return pq.read_table(path, columns=columns)
    except (OSError, pa.ArrowException) as e:
        raise DatasetFormatError(
            f"could not read {path}: {e}; the file is missing or corrupt. If the dataset was "
            "copied, copy it again; otherwise re-collect this episode."
        ) from e


def column_to_numpy(table: pa.Table, name: str, spec: dict[str, Any]) -> np.ndarray:
    """Arrow column -> (T, *spec['shape']) array of spec['dtype'] (copy, writable)."""
    if name not in table.column_names:
        raise DatasetFormatError(f"column {name!r} missing; got columns {table.column_names}")
    col = table.column(name).combine_chunks()
    if pa.types.is_fixed_size_list(col.type):
        col = col.flatten()
    values = col.to_numpy(zero_copy_only=False)
    shape = (table.num_rows, *spec["shape"])
    if values.size != int(np.prod(shape)):
        raise DatasetFormatError(
            f"column {name!r}: expected {shape} ({spec['dtype']}), got {values.size} values"
        )
    return values.astype(np.dtype(spec["dtype"]), copy=True).reshape(shape)

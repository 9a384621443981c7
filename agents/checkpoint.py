"""Checkpoints: a dict of tensors and plain values, written atomically, read without unpickling code.

A checkpoint holds the agent's typed metadata (``AgentMeta``: method, env, spaces, perception,
training seeds), its method's config and its state (weights, normalizers, whatever the method
needs to act).

``torch.load(weights_only=True)`` only rebuilds tensors and primitive containers, so a checkpoint
from an untrusted source cannot run code. Writes go to a temporary file that replaces the target
only once complete, so a crash never leaves a truncated checkpoint behind.
"""

import io
from pathlib import Path
from typing import Any

import torch

from dataset.atomic import atomic_path
from envs.errors import RoboloopError

FORMAT = "roboloop.checkpoint"
VERSION = 2  # 2: typed metadata ("meta"), "config" and "state" sections


class CheckpointError(RoboloopError, ValueError):
    """A file is not a roboloop checkpoint (or not one this version can read)."""


class CheckpointNotFoundError(RoboloopError, FileNotFoundError):
    """There is no file where a checkpoint was expected."""


def save_checkpoint(path: str | Path, meta: dict[str, Any], config: dict[str, Any],
                    state: dict[str, Any]) -> Path:
    """Write one agent (tensors, numbers, strings, lists, dicts only) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, "version": VERSION, "meta": meta, "config": config,
                    "state": state}, tmp)
    return path


def checkpoint_bytes(meta: dict[str, Any], config: dict[str, Any], state: dict[str, Any]) -> bytes:
    """The bytes :func:`save_checkpoint` would write, e.g. to ship an agent to another process."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, "meta": meta, "config": config, "state": state}, buffer)
    return buffer.getvalue()


def load_checkpoint(path: str | Path | bytes) -> dict[str, Any]:
    """Read a checkpoint (a file, or its bytes) safely; errors say what it is and what was expected."""
    if isinstance(path, bytes):
        path, source = Path("<checkpoint bytes>"), io.BytesIO(path)
    else:
        path = source = Path(path)
        if not path.is_file():
            raise CheckpointNotFoundError(
                f"checkpoint {path} does not exist; pass the checkpoint.pt written by scripts/train.py")
    try:
        data = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for corrupt/unsafe files
        raise CheckpointError(
            f"{path} could not be read as a weights-only roboloop checkpoint ({e}). Files that "
            "need arbitrary unpickling are refused on purpose; re-save with save_checkpoint()."
        ) from e
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a roboloop checkpoint (expected format={FORMAT!r})")
    if data.get("version") != VERSION:
        raise CheckpointError(
            f"{path} has checkpoint version {data.get('version')}, this code reads {VERSION}; "
            "retrain the agent with this version's scripts/train.py")
    return data

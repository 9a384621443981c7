"""Write/read RGB uint8 frame stacks as H.264 mp4 via imageio-ffmpeg's bundled ffmpeg.

Lossless mode (libx264rgb, -qp 0, rgb24) round-trips pixels exactly and is what the dataset
stores; lossy mode (libx264, yuv420p) makes small videos that any player opens (rollout videos).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from dataset.atomic import atomic_path
from dataset.errors import DatasetFormatError, DatasetNotFoundError, VideoError
from envs.errors import ConfigError

__all__ = ["LOSSLESS_CODEC", "encode_video", "read_video", "write_video"]

LOSSLESS_CODEC = "libx264rgb"
_LOSSY_CRF = "23"


def _check_frames(frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Validate and return frames as a C-contiguous (T, H, W, 3) uint8 array."""
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise DatasetFormatError(
            f"video frames must have shape (T, H, W, 3) (RGB), got shape {arr.shape}; "
            "stack a list of HxWx3 images with np.stack, and convert grayscale with "
            "np.repeat(img[..., None], 3, axis=-1)"
        )
    if arr.dtype != np.uint8:
        raise DatasetFormatError(
            f"video frames must be uint8 in [0, 255], got dtype {arr.dtype}; convert floats in "
            "[0, 1] with (np.clip(x, 0, 1) * 255).round().astype(np.uint8)"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] == 0:
        raise DatasetFormatError(f"video needs at least one non-empty frame, got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _check_fps(fps: float) -> float:
    """Validate that fps is a finite positive number."""
    ok = isinstance(fps, int | float | np.number) and not isinstance(fps, bool | np.bool_)
    if not (ok and math.isfinite(fps) and fps > 0):
        raise ConfigError(f"fps must be a finite number > 0, got {fps!r}")
    return float(fps)


def _pad_to_even(frames: np.ndarray) -> np.ndarray:
    """Edge-pad H and W to even sizes, which yuv420p (chroma at half resolution) requires."""
    _, h, w, _ = frames.shape
    if h % 2 == 0 and w % 2 == 0:
        return frames
    return np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def encode_video(path: str | Path, frames: np.ndarray, fps: float, lossless: bool = True) -> None:
    """Encode (T, H, W, 3) uint8 frames to `path` in place (NOT atomic; use `write_video`)."""
    frames = _check_frames(frames)
    fps = _check_fps(fps)
    if lossless:
        codec, pix_fmt, params = LOSSLESS_CODEC, "rgb24", ["-qp", "0"]
    else:
        frames = _pad_to_even(frames)
        codec, pix_fmt, params = "libx264", "yuv420p", ["-crf", _LOSSY_CRF]
    _, h, w, _ = frames.shape
    gen = imageio_ffmpeg.write_frames(
        str(path), (w, h), fps=fps, codec=codec, pix_fmt_in="rgb24", pix_fmt_out=pix_fmt,
        quality=None, macro_block_size=1, ffmpeg_log_level="error", output_params=params,
    )
    gen.send(None)  # start ffmpeg
    try:
        for frame in frames:
            gen.send(frame)
    finally:
        gen.close()  # waits for ffmpeg to finish the file
    p = Path(path)
    if not p.is_file() or p.stat().st_size == 0:
        raise VideoError(
            f"ffmpeg produced no video at {p} (codec {codec}, {w}x{h}, {len(frames)} frames); "
            "see ffmpeg's error printed above"
        )


def write_video(path: str | Path, frames: np.ndarray, fps: float, lossless: bool = True) -> None:
    """Atomically write (T, H, W, 3) uint8 frames as an mp4; exact pixels if `lossless`.

    Lossless uses libx264rgb -qp 0 (exact round trip, larger, not playable in browsers); lossy uses
    libx264 yuv420p crf 23 (small, plays anywhere; odd H/W are edge-padded by one pixel). The file
    is written to a hidden temp name and renamed, so `path` is never a half-written mp4.
    """
    frames = _check_frames(frames)
    with atomic_path(path) as tmp:
        encode_video(tmp, frames, fps, lossless=lossless)


def read_video(path: str | Path) -> np.ndarray:
    """Decode every frame of a video file into a (T, H, W, 3) uint8 RGB array."""
    p = Path(path)
    if not p.is_file():
        raise DatasetNotFoundError(f"video file not found: {p}")
    # passthrough: one output frame per stored frame, never duplicated/dropped to match a rate
    gen = imageio_ffmpeg.read_frames(
        str(p), pix_fmt="rgb24", output_params=["-fps_mode", "passthrough"]
    )
    try:
        meta = next(gen)
        w, h = meta["size"]
        frames = [np.frombuffer(buf, dtype=np.uint8) for buf in gen]
    except (OSError, RuntimeError, KeyError, ValueError) as e:
        raise VideoError(f"could not decode video {p} (corrupt or truncated file?): {e}") from e
    finally:
        gen.close()
    if not frames:
        return np.zeros((0, h, w, 3), dtype=np.uint8)
    return np.stack(frames).reshape(len(frames), h, w, 3)

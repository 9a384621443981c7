"""Demonstration dataset: per-episode parquet + lossless mp4 files (LeRobot v2.1-style layout).

numpy/pyarrow/imageio-ffmpeg only (no torch, no simulator); from the env layer only the error base
class (``envs.errors.RoboloopError``). See docs/dataset.md.
"""

from dataset.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from dataset.episode import Episode, EpisodeMeta
from dataset.errors import (
    DatasetError,
    DatasetExistsError,
    DatasetFormatError,
    DatasetIndexError,
    DatasetKeyError,
    DatasetNotFoundError,
    VideoError,
)
from dataset.reader import DemoDataset
from dataset.video_io import read_video, write_video
from dataset.windows import WindowBatch, Windows, make_windows, window_indices
from dataset.writer import DatasetWriter

__all__ = [
    "DatasetError",
    "DatasetExistsError",
    "DatasetFormatError",
    "DatasetIndexError",
    "DatasetKeyError",
    "DatasetNotFoundError",
    "DatasetWriter",
    "DemoDataset",
    "Episode",
    "EpisodeMeta",
    "VideoError",
    "WindowBatch",
    "Windows",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "make_windows",
    "read_video",
    "window_indices",
    "write_video",
]

"""Demonstration dataset: per-episode parquet + lossless mp4 files (LeRobot v2.1-style layout).

numpy/pyarrow/imageio-ffmpeg only (no torch, no simulator); from the env layer only the error base
class (``envs.errors.RoboloopError``). Tools (merge, split, describe) are below; exporters to
other formats (robomimic HDF5, Minari) are in ``dataset.export``. See docs/dataset.md.
"""

from dataset.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from dataset.episode import Episode, EpisodeMeta
from dataset.errors import (
    DatasetError,
    DatasetExistsError,
    DatasetFormatError,
    DatasetIndexError,
    DatasetKeyError,
    DatasetMismatchError,
    DatasetNotFoundError,
    DatasetSplitError,
    DuplicateSeedError,
    ExportDependencyError,
    VideoError,
)
from dataset.reader import DemoDataset
from dataset.tools import assign_episodes, describe, merge, split
from dataset.video_io import read_video, write_video
from dataset.windows import WindowBatch, Windows, make_windows, window_indices
from dataset.writer import DatasetWriter

__all__ = [
    "DatasetError",
    "DatasetExistsError",
    "DatasetFormatError",
    "DatasetIndexError",
    "DatasetKeyError",
    "DatasetMismatchError",
    "DatasetNotFoundError",
    "DatasetSplitError",
    "DatasetWriter",
    "DemoDataset",
    "DuplicateSeedError",
    "Episode",
    "EpisodeMeta",
    "ExportDependencyError",
    "VideoError",
    "WindowBatch",
    "Windows",
    "assign_episodes",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "describe",
    "make_windows",
    "merge",
    "read_video",
    "split",
    "window_indices",
    "write_video",
]

"""Exceptions raised by the dataset layer; every message says expected, got and how to fix.

All derive from roboloop's :class:`~envs.errors.RoboloopError` and from the built-in a caller
would expect.
"""

from __future__ import annotations

from envs.errors import RoboloopError

__all__ = ["DatasetError", "DatasetExistsError", "DatasetFormatError", "DatasetIndexError",
           "DatasetKeyError", "DatasetMismatchError", "DatasetNotFoundError", "DatasetSplitError",
           "DuplicateSeedError", "ExportDependencyError", "VideoError"]


class DatasetError(RoboloopError):
    """Base of the dataset layer's errors."""


class DatasetFormatError(DatasetError, ValueError):
    """Data or files do not match the dataset format (bad episode arrays, unreadable dataset)."""


class DatasetExistsError(DatasetError, FileExistsError):
    """The target folder already holds data and the caller did not ask to append to it."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A file the dataset needs is not there."""


class DatasetKeyError(DatasetError, KeyError):
    """An observation key that the dataset (or an episode) does not have."""


class DatasetIndexError(DatasetError, IndexError, TypeError):
    """A sample index out of range, or not an index at all."""


class VideoError(DatasetError, OSError):
    """A video could not be encoded or decoded."""


class DatasetMismatchError(DatasetError, ValueError):
    """Datasets that must agree (the sources of a merge) differ in env, fps or features."""


class DuplicateSeedError(DatasetError, ValueError):
    """A reset seed appears in more than one source of a merge (the same episode twice?)."""


class DatasetSplitError(DatasetError, ValueError):
    """A split (fractions and episode lists) that does not divide the episodes into parts."""


class ExportDependencyError(DatasetError, ImportError):
    """An exporter's optional package (h5py, minari) is not installed."""

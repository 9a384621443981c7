"""Exceptions raised by the dataset layer; every message says expected, got and how to fix."""

from __future__ import annotations

__all__ = ["DatasetExistsError", "DatasetFormatError"]


class DatasetFormatError(ValueError):
    """Data or files do not match the dataset format (bad episode arrays, unreadable dataset)."""


class DatasetExistsError(FileExistsError):
    """The target folder already holds data and the caller did not ask to append to it."""

"""Perception: raw observations -> features for agents. Identity by default."""

from perception.identity import Identity, SelectKeys

__all__ = ["Identity", "SelectKeys"]

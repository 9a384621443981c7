"""Perception: raw observations -> features for agents. Identity by default."""

from perception.identity import Identity, ObservationKeyError, SelectKeys
from perception.registry import PERCEPTIONS, make_perception, perception_spec

__all__ = ["PERCEPTIONS", "Identity", "ObservationKeyError", "SelectKeys", "make_perception",
           "perception_spec"]

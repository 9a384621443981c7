"""Perception: raw observations -> features for agents. Identity by default.

The learned modules (``perception.pointnet_perception``, ``perception.keypoints``,
``perception.detector``) import torch and are loaded on first use through the registry.
"""

from perception.compose import Compose
from perception.identity import Identity, ObservationKeyError, SelectKeys
from perception.pointcloud import CloudPipeline
from perception.registry import PERCEPTIONS, make_perception, perception_spec
from perception.wrapper import PerceptionWrapper

__all__ = ["PERCEPTIONS", "CloudPipeline", "Compose", "Identity", "ObservationKeyError", "PerceptionWrapper",
           "SelectKeys", "make_perception", "perception_spec"]

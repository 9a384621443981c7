"""Agents: anything with ``reset()`` and ``act(features) -> action``; trained ones load by name.

Learning methods are :class:`agents.learner.Learner` subclasses, registered by name in
``agents.registry.METHODS`` and imported only when used.
"""

from agents import distributed
from agents.learner import Learner, TrainingSource
from agents.meta import AgentMeta
from agents.registry import METHODS, find_method, load_agent, make_config

__all__ = ["METHODS", "AgentMeta", "Learner", "TrainingSource", "distributed", "find_method", "load_agent",
           "make_config"]

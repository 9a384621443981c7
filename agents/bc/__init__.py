"""Behaviour cloning: an MLP regressing normalized expert actions (or classifying discrete ones)."""

from agents.bc.agent import BCAgent
from agents.bc.config import BCConfig

__all__ = ["BCAgent", "BCConfig"]

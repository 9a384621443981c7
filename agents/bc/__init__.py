"""Behaviour cloning: an MLP regressing normalized expert actions from normalized observations."""

from agents.bc.config import BCConfig
from agents.bc.policy import BCAgent
from agents.bc.train import train_bc

__all__ = ["BCAgent", "BCConfig", "train_bc"]

"""Implicit behaviour cloning: an energy model over (observation, action), acting by argmin."""

from agents.ibc.agent import IBCAgent
from agents.ibc.config import IBCConfig
from agents.ibc.energy import EnergyModel, fit_energy

__all__ = ["EnergyModel", "IBCAgent", "IBCConfig", "fit_energy"]

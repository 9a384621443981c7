"""Supervisors and teleoperation: who drives or takes over when a person (or a stand-in) is in the loop."""

from agents.teleop.gate import ExpertGate
from agents.teleop.keyboard import KeyboardTeleop
from agents.teleop.teleop import Teleop

__all__ = ["ExpertGate", "KeyboardTeleop", "Teleop"]

"""Agents: anything with ``reset()`` and ``act(features) -> action``; trained ones load by name."""

from agents.factory import AGENTS, agent_spec, load_agent, make_config

__all__ = ["AGENTS", "agent_spec", "load_agent", "make_config"]

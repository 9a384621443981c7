"""The perception-action loop and what it owns: the Agent/Perception protocols, callbacks, evaluation.

Evaluation, demonstration collection, video recording, DAgger and the real robot all run
:func:`loop.rollout.rollout`; they differ only in the agent and the callbacks they pass.
"""

from loop.evaluation import EvalSummary, evaluate, wilson_interval
from loop.protocols import Agent, Callback, EpisodeResult, Features, Perception, Step
from loop.relabel import Relabelled
from loop.rollout import MissingSuccessError, rollout, run_episodes

__all__ = [
    "Agent",
    "Callback",
    "EpisodeResult",
    "EvalSummary",
    "Features",
    "MissingSuccessError",
    "Perception",
    "Relabelled",
    "Step",
    "evaluate",
    "rollout",
    "run_episodes",
    "wilson_interval",
]

"""The perception-action loop and what it owns: the Agent/Perception protocols, callbacks, evaluation.

Evaluation, demonstration collection, video recording (and later DAgger and the real robot) all run
:func:`loop.rollout.rollout`; they differ only in the callbacks they pass.
"""

from loop.evaluation import EvalSummary, evaluate, wilson_interval
from loop.protocols import Agent, Callback, Perception
from loop.rollout import EpisodeResult, Step, rollout, run_episodes

__all__ = [
    "Agent",
    "Callback",
    "EpisodeResult",
    "EvalSummary",
    "Perception",
    "Step",
    "evaluate",
    "rollout",
    "run_episodes",
    "wilson_interval",
]

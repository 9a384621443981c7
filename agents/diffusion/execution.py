"""How a chunk-predicting policy turns chunks into one action per step.

The loop calls ``act`` once per env step; these executors decide when to predict a new chunk
(Tp actions from the observation history) and which action to return. ``predict`` maps the
history (a list of To observation dicts) to a chunk (Tp, Da).

- :class:`ChunkQueue` (Diffusion Policy): execute the first Ta actions, then predict again.
- :class:`TemporalEnsemble` (ACT, Zhao et al. 2023): predict every step; the action for step t is
  the average of every chunk's prediction for t, weighted exp(-decay * i) with i = 0 the oldest.
- :class:`AsyncChunks` (latency-aware): start the next chunk ``lead`` steps before the queue runs
  out, from the observation of that step, in a background thread, so the robot keeps executing
  while the network thinks; the new chunk's first ``lead`` actions are for steps already taken
  and are skipped. ``lead`` is given, or measured as ceil(inference time / control period).
  Which observation each chunk sees and which actions it skips depend only on step counts, so a
  simulated rollout is reproducible; only whether the robot waits depends on the clock.
"""

import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

Predict = Callable[[list[dict[str, np.ndarray]]], np.ndarray]


class ChunkQueue:
    """Ta actions of each chunk, then a new chunk."""

    def __init__(self, predict: Predict, action_steps: int) -> None:
        self.predict, self.action_steps = predict, action_steps
        self.queue: deque = deque()

    def reset(self) -> None:
        """Drop queued actions."""
        self.queue.clear()

    def act(self, history: list[dict[str, np.ndarray]]) -> np.ndarray:
        """The next queued action, predicting a chunk when the queue is empty."""
        if not self.queue:
            self.queue.extend(self.predict(history)[:self.action_steps])
        return self.queue.popleft()

    def close(self) -> None:
        """Nothing to release."""


class TemporalEnsemble:
    """A chunk every step; each action is the weighted mean of all predictions for that step."""

    def __init__(self, predict: Predict, decay: float) -> None:
        self.predict, self.decay = predict, decay
        self.chunks: deque = deque()  # (start step, chunk), oldest first
        self.t = 0

    def reset(self) -> None:
        """Forget earlier chunks."""
        self.chunks.clear()
        self.t = 0

    def act(self, history: list[dict[str, np.ndarray]]) -> np.ndarray:
        """The ensembled action for this step."""
        chunk = self.predict(history)
        self.chunks.append((self.t, chunk))
        while self.t - self.chunks[0][0] >= len(self.chunks[0][1]):
            self.chunks.popleft()  # predicts nothing for this step any more
        actions = np.stack([c[self.t - start] for start, c in self.chunks])
        weights = np.exp(-self.decay * np.arange(len(actions)))[:, None]
        self.t += 1
        return (weights * actions).sum(0) / weights.sum()

    def close(self) -> None:
        """Nothing to release."""


class AsyncChunks:
    """The next chunk computed in the background while the current one executes."""

    def __init__(self, predict: Predict, action_steps: int, horizon: int, lead: int,
                 control_period: float) -> None:
        self.predict, self.action_steps, self.horizon = predict, action_steps, horizon
        self.fixed_lead, self.control_period = lead, control_period
        self.max_lead = min(action_steps, horizon - action_steps)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diffusion-chunk")
        self.latency: float | None = None  # seconds per chunk, measured
        self.stats = {"chunks": 0, "waits": 0, "wait_seconds": 0.0}
        self.queue: deque = deque()
        self.pending: Future | None = None

    @property
    def lead(self) -> int:
        """Steps before the queue runs out at which the next chunk starts."""
        if self.fixed_lead >= 0:
            return self.fixed_lead
        if self.latency is None or self.control_period <= 0:
            return self.max_lead
        return min(self.max_lead, math.ceil(self.latency / self.control_period))

    def reset(self) -> None:
        """Drop the queue and any chunk in flight."""
        if self.pending is not None:
            self.pending.result()
        self.queue.clear()
        self.pending = None

    def _timed(self, history: list[dict[str, np.ndarray]]) -> np.ndarray:
        t0 = time.perf_counter()
        chunk = self.predict(history)
        spent = time.perf_counter() - t0
        self.latency = spent if self.latency is None else 0.8 * self.latency + 0.2 * spent
        self.stats["chunks"] += 1
        return chunk

    def act(self, history: list[dict[str, np.ndarray]]) -> np.ndarray:
        """The next action; starts the next chunk ``lead`` steps before the queue runs out."""
        if not self.queue:
            if self.pending is None:  # the episode's first chunk (or lead 0): predict now
                self.queue.extend(self._timed(history)[:self.action_steps])
            else:
                t0 = time.perf_counter()
                if not self.pending.done():
                    self.stats["waits"] += 1  # inference slower than the lead it was given
                chunk, skip = self.pending.result()
                self.stats["wait_seconds"] += time.perf_counter() - t0
                self.queue.extend(chunk[skip:skip + self.action_steps])
                self.pending = None
        if self.pending is None and len(self.queue) == self.lead:
            skip = self.lead
            snapshot = [dict(frame) for frame in history]
            self.pending = self.pool.submit(lambda: (self._timed(snapshot), skip))
        return self.queue.popleft()

    def close(self) -> None:
        """Stop the background thread."""
        self.pool.shutdown(wait=True)


Executor = ChunkQueue | TemporalEnsemble | AsyncChunks


def make_executor(cfg: Any, predict: Predict, control_period: float) -> Executor:
    """The executor ``cfg.execution`` names."""
    if cfg.execution == "ensemble":
        return TemporalEnsemble(predict, cfg.ensemble_decay)
    if cfg.execution == "async":
        return AsyncChunks(predict, cfg.action_steps, cfg.action_horizon, cfg.async_lead, control_period)
    return ChunkQueue(predict, cfg.action_steps)

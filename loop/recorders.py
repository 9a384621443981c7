"""Loop callbacks that record: demonstrations into a dataset, and rollout videos as MP4."""

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from dataset import DatasetWriter, Episode
from dataset.video_io import write_video
from envs.errors import ConfigError
from loop.intervention import Intervened
from loop.protocols import Callback, EpisodeResult, Step
from loop.relabel import Relabelled


def as_obs_dict(obs: Any) -> dict[str, np.ndarray]:
    """Dict observations pass through; a flat (state-mode) observation is stored as ``state``."""
    return obs if isinstance(obs, dict) else {"state": obs}


class EpisodeRecorder(Callback):
    """Buffers each episode's (observation, action, reward) and commits it to a dataset at the end.

    With ``success_only`` failed episodes are dropped; ``saved`` counts committed episodes. With
    ``labels`` (the :class:`Relabelled` agent driving the loop) the stored action is that step's
    label (e.g. the clean expert action while a noisy or learner policy drives the env: DART,
    DAgger) instead of the executed one; the recorder never asks an agent for an action itself.
    A step whose label is None (HG-DAgger: the learner drove, no one intervened) is not stored, and
    each run of labelled steps is committed as its own episode (``extra["segment"]``).
    """

    def __init__(self, writer: DatasetWriter, *, success_only: bool = False,
                 labels: Relabelled | Intervened | None = None, extra: dict | None = None) -> None:
        self.writer, self.success_only, self.labels = writer, success_only, labels
        self.extra = dict(extra or {})  # stored with every episode, e.g. how actions were labelled
        self.saved = 0
        self._seed: int | None = None
        self._obs: list[dict[str, np.ndarray]] = []
        self._actions: list[np.ndarray] = []
        self._rewards: list[float] = []
        self._labelled: list[bool] = []

    def on_reset(self, obs: Any, info: dict, seed: int | None) -> None:
        """Start a new buffer; recorded episodes must be seeded to be reproducible."""
        if seed is None:
            raise ConfigError("EpisodeRecorder needs seeded resets so episodes can be recreated")
        self._seed, self._obs, self._actions, self._rewards, self._labelled = seed, [], [], [], []

    def on_step(self, step: Step) -> None:
        """Keep the observation the action was chosen on, the action and its reward."""
        action = step.action if self.labels is None else self.labels.label
        self._labelled.append(action is not None)
        if action is None:
            return
        self._obs.append(as_obs_dict(step.obs))
        # A discrete action (an integer index) is stored as a (1,) float32 column, exact for any
        # realistic number of choices, so every dataset has (T, Da) float32 actions.
        self._actions.append(np.asarray(action, dtype=np.float32).reshape(-1))
        self._rewards.append(step.reward)

    def on_episode_end(self, result: EpisodeResult) -> None:
        """Commit the episode atomically (or drop it if failed and ``success_only``)."""
        if self.success_only and not result.success:
            return
        segments = _runs(self._labelled)
        whole = segments == [(0, len(self._labelled))]
        kept = 0
        for i, (start, stop) in enumerate(segments):
            rows = slice(kept, kept + stop - start)
            kept += stop - start
            at_end = stop == len(self._labelled)  # the segment ends where the episode ended
            extra = {"reason": result.reason, **self.extra}
            if not whole:
                extra["segment"] = {"index": i, "start_step": start, "episode_length": len(self._labelled)}
            self.writer.add_episode(Episode(
                seed=int(self._seed),
                observations={k: np.stack([o[k] for o in self._obs[rows]]) for k in self._obs[0]},
                actions=np.stack(self._actions[rows]),
                rewards=np.asarray(self._rewards[rows], dtype=np.float32),
                success=result.success,
                terminated=result.terminated and at_end,
                truncated=result.truncated or not at_end,
                extra=extra,
            ))
            self.saved += 1


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """[start, stop) of each run of True in ``flags``."""
    runs, start = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i))
            start = None
    return runs


class VideoRecorder(Callback):
    """Writes ``env.render()`` frames of the first ``max_videos`` episodes to ``out_dir``.

    One file per episode, ``episode_<seed>.mp4``, holding T+1 frames (the reset frame and one per
    step), H.264 yuv420p so any player opens it.
    """

    def __init__(self, env: gym.Env, out_dir: str | Path, *, max_videos: int = 1) -> None:
        if env.render_mode != "rgb_array":
            raise ConfigError(
                f"VideoRecorder needs an env made with render_mode='rgb_array', got "
                f"{env.render_mode!r}; pass render_mode='rgb_array' to gymnasium.make")
        self.env, self.out_dir, self.max_videos = env, Path(out_dir), max_videos
        self.paths: list[Path] = []
        self._frames: list[np.ndarray] | None = None
        self._seed: int | None = None

    def on_reset(self, obs: Any, info: dict, seed: int | None) -> None:
        """Start capturing if fewer than ``max_videos`` were written."""
        self._seed = seed
        self._frames = [self.env.render()] if len(self.paths) < self.max_videos else None

    def on_step(self, step: Step) -> None:
        """Capture the frame after the step."""
        if self._frames is not None:
            self._frames.append(self.env.render())

    def on_episode_end(self, result: EpisodeResult) -> None:
        """Encode the captured frames."""
        if self._frames is None:
            return
        path = self.out_dir / f"episode_{self._seed}.mp4"
        fps = self.env.metadata.get("render_fps", 20)
        write_video(path, np.stack(self._frames), fps=fps, lossless=False)
        self.paths.append(path)
        self._frames = None

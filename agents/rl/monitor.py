"""Watching an SB3 run: one progress bar, validation through the shared loop, checkpoints, the curve.

Every ``eval_every`` env steps the current policy plays ``eval_episodes`` episodes on validation
seeds (never the training or the test seeds) through ``loop.evaluate``; the success rate (Wilson
interval) and mean return go to the bar, the logger and ``learning_curve.{json,png}``, and with a
run directory ``last.pt`` (full training state, for ``resume``) and ``best.pt`` are written.
"""

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.logger import KVWriter  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from dataset.atomic import atomic_path, atomic_write_text  # noqa: E402
from loop.evaluation import evaluate  # noqa: E402
from loop.seeds import VALIDATION_SEEDS  # noqa: E402


class ScalarForwarder(KVWriter):
    """Sends SB3's logged scalars (losses, episode returns) to roboloop's ``log(step, scalars)``."""

    def __init__(self, log: Callable[[int, dict[str, float]], None]) -> None:
        self.log = log

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0) -> None:
        """Forward the numbers (SB3's timing entries excluded)."""
        scalars = {k: float(v) for k, v in key_values.items()
                   if isinstance(v, int | float) and not k.startswith("time/")}
        if scalars:
            self.log(step, scalars)

    def close(self) -> None:
        """Nothing to release."""


class TrainingMonitor(BaseCallback):
    """Progress, validation, checkpoints and the learning curve of one ``learn`` call.

    ``snapshot(training)`` returns the agent as it is now (with its training state if asked);
    ``curve`` holds the validation points so far (a resumed run passes the previous ones).
    """

    def __init__(self, total_steps: int, every: int, episodes: int, eval_env: Any, perception: Any,
                 snapshot: Callable[[bool], Any], log: Callable[[int, dict[str, float]], None],
                 run_dir: Path | None, curve: list[dict], progress: bool, label: str,
                 save_buffer: Callable[[Path], Any] | None = None) -> None:
        super().__init__()
        self.total, self.every, self.seeds = total_steps, every, list(VALIDATION_SEEDS[:episodes])
        self.eval_env, self.perception, self.snapshot, self.log = eval_env, perception, snapshot, log
        self.run_dir, self.curve, self.progress, self.label = run_dir, curve, progress, label
        self.save_buffer = save_buffer
        self.best: dict | None = max(curve, key=_score) if curve else None
        self.best_agent: Any = None
        self.started = time.perf_counter() - (curve[-1]["seconds"] if curve else 0.0)

    def _on_training_start(self) -> None:
        n = self.num_timesteps
        self.bar = tqdm(total=self.total, initial=n, desc=f"train {self.label}", unit="step",
                        disable=not self.progress, dynamic_ncols=True)
        self.next_eval = (n // self.every + 1) * self.every if self.every else None

    def _on_step(self) -> bool:
        n = self.num_timesteps
        if n - self.bar.n >= 512:
            self.bar.update(n - self.bar.n)
        if self.next_eval is not None and n >= self.next_eval:
            self.validate(n)
            self.next_eval += self.every
        return True

    def _on_training_end(self) -> None:
        n = self.num_timesteps
        if self.every and (not self.curve or self.curve[-1]["step"] != n):
            self.validate(n)
        self.bar.total = max(self.bar.total, n)  # off-policy rollouts may end past the budget
        self.bar.update(n - self.bar.n)
        self.bar.close()

    def validate(self, step: int) -> None:
        """Play the validation episodes, record the point, write the checkpoints and the curve."""
        agent = self.snapshot(False)
        summary = evaluate(self.eval_env, agent, self.seeds, perception=self.perception, progress=None)
        point = {"step": step, "seconds": round(time.perf_counter() - self.started, 1),
                 "success_rate": summary.success_rate, "success_ci95": list(summary.success_ci95),
                 "mean_return": summary.mean_return, "episodes": summary.episodes}
        self.curve.append(point)
        self.log(step, {"validation/success_rate": summary.success_rate,
                        "validation/mean_return": summary.mean_return})
        self.bar.set_postfix(success=f"{summary.success_rate:.2f}", ret=f"{summary.mean_return:.1f}",
                             refresh=False)
        if self.best is None or _score(point) > _score(self.best):
            self.best, self.best_agent = point, agent
        if self.run_dir is not None:
            if self.best is point:
                agent.save(self.run_dir / "best.pt")
            self.snapshot(True).save(self.run_dir / "last.pt")
            if self.save_buffer is not None:
                self.save_buffer(self.run_dir / "last_replay.npz")
            write_curve(self.run_dir, self.curve, self.label)


def _score(point: dict) -> tuple[float, float]:
    """Validation success first, mean return to break ties."""
    return point["success_rate"], point["mean_return"]


def write_curve(run_dir: Path, curve: list[dict], label: str) -> None:
    """``learning_curve.json`` and a PNG: validation success (95% band) and return vs env steps."""
    atomic_write_text(run_dir / "learning_curve.json", json.dumps(curve, indent=1) + "\n")
    steps = [p["step"] for p in curve]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
    top.plot(steps, [p["success_rate"] for p in curve], marker="o")
    top.fill_between(steps, [p["success_ci95"][0] for p in curve], [p["success_ci95"][1] for p in curve],
                     alpha=0.2)
    top.set(ylabel="validation success", ylim=(-0.02, 1.02), title=label)
    bottom.plot(steps, [p["mean_return"] for p in curve], marker="o")
    bottom.set(xlabel="env steps", ylabel="mean return")
    fig.tight_layout()
    with atomic_path(run_dir / "learning_curve.png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def read_curve(run_dir: Path | None) -> list[dict]:
    """The validation points of an earlier, interrupted run (none if there are none)."""
    path = None if run_dir is None else run_dir / "learning_curve.json"
    return json.loads(path.read_text()) if path is not None and path.is_file() else []

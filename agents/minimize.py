"""The gradient loop every offline learner shares: AdamW, cosine decay to 0, logged loss.

Under ``torchrun`` the loss a learner returns is its rank's shard of the global batch, wrapped in
DDP (``agents.distributed.data_parallel``), so the update is the same on every rank; only rank 0
logs, shows progress and writes the training state. With a :class:`TrainState` the weights, the
optimizer, the schedule and the batch generators are saved every ``every`` steps by global step,
independent of the number of processes, so a run resumes at any world size.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler
from tqdm.auto import tqdm

from agents import distributed
from agents.checkpoint import CheckpointError
from dataset.atomic import atomic_path


@dataclass
class TrainState:
    """What resumes an interrupted offline run: written to ``path`` by rank 0 every ``every`` steps."""

    path: Path
    modules: dict[str, nn.Module]
    generators: dict[str, torch.Generator] = field(default_factory=dict)
    every: int = 500
    resume: bool = False  # continue from ``path`` if it exists

    def save(self, step: int, opt: torch.optim.Optimizer, sched: LRScheduler) -> None:
        """Atomically write the state after ``step`` global steps (rank 0 only)."""
        if not distributed.is_rank0():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as tmp:
            torch.save({"step": step, "modules": {k: m.state_dict() for k, m in self.modules.items()},
                        "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                        "generators": {k: g.get_state() for k, g in self.generators.items()}}, tmp)

    def load(self, opt: torch.optim.Optimizer, sched: LRScheduler) -> int:
        """Restore everything from ``path`` (every rank reads it); the global step to continue from."""
        try:
            data = torch.load(self.path, map_location="cpu", weights_only=True)
            for key, module in self.modules.items():
                module.load_state_dict(data["modules"][key])
            opt.load_state_dict(data["optimizer"])
            sched.load_state_dict(data["scheduler"])
            for key, gen in self.generators.items():  # a per-rank noise stream may be new at this size
                if key in data["generators"]:
                    gen.set_state(data["generators"][key])
        except (KeyError, RuntimeError) as e:
            raise CheckpointError(f"{self.path} does not hold this run's training state ({e}); start a new "
                                  "run or point hydra.run.dir at the interrupted one") from e
        return int(data["step"])


def minimize(params: Iterable[torch.nn.Parameter], loss_at: Callable[[int], torch.Tensor], *, steps: int,
             lr: float, weight_decay: float, log: Callable[[int, dict[str, float]], None],
             progress: bool, desc: str, after_step: Callable[[int], None] | None = None,
             state: TrainState | None = None) -> None:
    """``steps`` AdamW steps on ``loss_at(step)``; ``loss`` (mean over ranks) and ``lr`` logged every 100.

    ``after_step(step)`` runs after each update (e.g. an EMA of the weights). With ``state`` the run
    saves its training state as it goes and, with ``state.resume``, continues from the saved step.
    """
    params = list(params)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    start = state.load(opt, sched) if state is not None and state.resume and state.path.is_file() else 0
    rank0 = distributed.is_rank0()
    bar = tqdm(range(start, steps), desc=desc, disable=not (progress and rank0), dynamic_ncols=True,
               initial=start, total=steps)
    for step in bar:
        loss = loss_at(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if after_step is not None:
            after_step(step)
        if step % 100 == 0 or step == steps - 1:
            value = distributed.mean_over_ranks(loss)  # a collective: every rank takes part
            if rank0:
                bar.set_postfix(loss=f"{value:.4f}")
                log(step, {"loss": value, "lr": sched.get_last_lr()[0]})
        if state is not None and ((step + 1) % state.every == 0 or step == steps - 1):
            state.save(step + 1, opt, sched)
    distributed.check_in_sync(params)

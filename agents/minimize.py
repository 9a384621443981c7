"""The gradient loop every offline learner shares: AdamW, cosine decay to 0, logged loss."""

from collections.abc import Callable, Iterable

import torch
from tqdm.auto import tqdm


def minimize(params: Iterable[torch.nn.Parameter], loss_at: Callable[[int], torch.Tensor], *, steps: int,
             lr: float, weight_decay: float, log: Callable[[int, dict[str, float]], None],
             progress: bool, desc: str, after_step: Callable[[int], None] | None = None) -> None:
    """``steps`` AdamW steps on ``loss_at(step)``; ``loss`` and ``lr`` logged every 100 steps.

    ``after_step(step)`` runs after each update (e.g. an EMA of the weights).
    """
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    bar = tqdm(range(steps), desc=desc, disable=not progress, dynamic_ncols=True)
    for step in bar:
        loss = loss_at(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if after_step is not None:
            after_step(step)
        if step % 100 == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{loss.item():.4f}")
            log(step, {"loss": loss.item(), "lr": sched.get_last_lr()[0]})

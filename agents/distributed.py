"""Data-parallel training under ``torchrun``: one process per core or GPU, gradients averaged by DDP.

``torchrun --nproc_per_node N scripts/train.py ...`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``
and the rendezvous address; :func:`init_from_env` joins the process group (gloo on CPU, nccl on
CUDA). Every rank draws the same global batch of dataset indices from the same seeded generator
and gathers only its shard (:func:`shard`), so N processes at global batch B compute the gradient
of the same B samples as one process would, and DDP's average makes every rank take the same step.
Rank 0 alone writes checkpoints, logs and metrics (:func:`is_rank0`). Without torchrun everything
here is a no-op: world size 1, rank 0.
"""

import os
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from envs.errors import ConfigError, RoboloopError


class DistributedError(RoboloopError, RuntimeError):
    """Ranks disagree (parameters diverged) or the process group could not be set up."""


def init_from_env() -> bool:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1); True if distributed.

    gloo on CPU, nccl when CUDA is available (each rank on GPU ``LOCAL_RANK``). Idempotent.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return dist.is_initialized()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    return True


def world_size() -> int:
    """Processes training together (1 without torchrun)."""
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    """The rank of this process (0 without torchrun)."""
    return dist.get_rank() if dist.is_initialized() else 0


def is_rank0() -> bool:
    """True in the one process that writes checkpoints, logs and metrics."""
    return rank() == 0


def shard(indices: torch.Tensor) -> torch.Tensor:
    """The contiguous share, for this rank, of a global batch of indices (B,) -> (B / world_size,)."""
    n = world_size()
    if len(indices) % n:
        raise ConfigError(f"the global batch ({len(indices)}) must split evenly over {n} processes; "
                          f"set batch_size to a multiple of {n}")
    size = len(indices) // n
    return indices[rank() * size:(rank() + 1) * size]


def rank_generator(shared: torch.Generator, seed: int) -> torch.Generator:
    """The generator for randomness inside a rank's loss (noise, augmentation).

    ``shared`` itself in one process (results as before); under torchrun one per rank, so shards
    draw different noise while ``shared`` keeps drawing the same global batches on every rank.
    """
    if world_size() == 1:
        return shared
    return torch.Generator().manual_seed(seed * 100_003 + rank() + 1)


class _Loss(nn.Module):
    """A module whose forward is ``loss_fn``: DDP hooks the parameters of ``model`` through it."""

    def __init__(self, model: nn.Module, loss_fn: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.model, self.loss_fn = model, loss_fn

    def forward(self, *args: Any) -> torch.Tensor:
        """The loss of this rank's shard."""
        return self.loss_fn(*args)


def data_parallel(model: nn.Module, loss_fn: Callable[..., torch.Tensor], *,
                  unused_parameters: bool = False) -> Callable[..., torch.Tensor]:
    """``loss_fn`` with DDP around ``model`` when distributed (gradients averaged over ranks), else as is.

    DDP broadcasts rank 0's parameters and buffers when it is built, so every rank starts alike.
    ``unused_parameters``: some parameters may get no gradient in a step (e.g. an unused encoder).
    """
    if not dist.is_initialized():
        return loss_fn
    device = [torch.cuda.current_device()] if torch.cuda.is_available() and dist.get_backend() == "nccl" \
        else None
    return nn.parallel.DistributedDataParallel(_Loss(model, loss_fn), device_ids=device,
                                               find_unused_parameters=unused_parameters)


def mean_over_ranks(value: torch.Tensor) -> float:
    """The mean of a scalar over ranks (e.g. the loss to log); the value itself without torchrun."""
    if not dist.is_initialized():
        return float(value.detach())
    total = value.detach().clone().reshape(1).float()
    dist.all_reduce(total)
    return float(total) / world_size()


def check_in_sync(params: list[torch.Tensor]) -> None:
    """Raise :class:`DistributedError` unless every rank holds exactly rank 0's parameters."""
    if not dist.is_initialized():
        return
    flat = torch.cat([p.detach().reshape(-1).float() for p in params])
    reference = flat.clone()
    dist.broadcast(reference, 0)
    differs = torch.tensor([float(not torch.equal(flat, reference))], device=flat.device)
    dist.all_reduce(differs)
    if differs.item():
        raise DistributedError(f"parameters differ between ranks after training ({int(differs.item())} of "
                               f"{world_size()} ranks disagree with rank 0); every rank must run the same "
                               "steps on the same global batch")


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (e.g. its run directory); ``obj`` itself without torchrun."""
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def other_rank_overrides() -> list[str]:
    """Hydra overrides that keep ranks other than 0 from writing anything (no run dir, no logs)."""
    if os.environ.get("RANK", "0") == "0":
        return []
    return ["hydra.run.dir=.", "hydra.output_subdir=null", "hydra/job_logging=disabled",
            "hydra/hydra_logging=disabled"]


def shutdown() -> None:
    """Leave the process group (end of a torchrun job)."""
    if dist.is_initialized():
        dist.destroy_process_group()

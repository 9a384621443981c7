"""Data-parallel training: 2 gloo processes keep identical parameters after every step, follow the
1-process run at the same global batch, resume at another world size, and only rank 0 writes."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import agents.bc.train as bc_train
from agents import TrainingSource, distributed, find_method, make_config
from agents.bc.config import BCConfig
from agents.bc.train import fit_policy
from agents.minimize import TrainState, minimize
from dataset import DemoDataset
from envs.errors import ConfigError
from tests.conftest import ROOT
from world_models import dynamics

CFG = BCConfig(steps=30, batch_size=32, hidden_sizes=[16], lr=3e-3)


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(256, 6)).astype(np.float32)
    return obs, np.tanh(obs @ rng.normal(size=(6, 2))).astype(np.float32)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def join(rank: int, world: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    assert distributed.init_from_env()


def ranks_at_work(rank: int, world: int, port: int, out: str, demos: str) -> None:
    """Each spawned rank: the checked BC run, the interrupted run, a diffusion run (one start-up for all)."""
    join(rank, world, port)
    train_checking_every_step(rank, out)
    train_interrupted(out)
    cfg = make_config("diffusion", {"steps": 4, "batch_size": 8, "down_dims": [8, 16], "action_horizon": 8})
    source = TrainingSource.from_dataset(DemoDataset(demos), progress=False, run_dir=Path(out) / "diffusion")
    agent = find_method("diffusion").fit(cfg, source)  # minimize checks that the ranks agree at the end
    torch.save({k: v for k, v in agent.state()["model"].items() if torch.is_tensor(v)},
               Path(out) / f"diffusion_rank{rank}.pt")
    torch.save(fit_dynamics().state_dict(), Path(out) / f"dynamics_rank{rank}.pt")
    distributed.shutdown()


def fit_dynamics() -> torch.nn.Module:
    """A 3-member ensemble fitted to a small nonlinear system (on this rank's shares of the batches)."""
    rng = torch.Generator().manual_seed(0)
    states, actions = torch.randn(300, 4, generator=rng), torch.rand(300, 2, generator=rng) * 2 - 1
    next_states = states + 0.1 * torch.tanh(states[:, :2].repeat(1, 2) + actions.repeat(1, 2))
    model = dynamics.build(4, 2, {"members": 3, "hidden": [16], "train_steps": 20, "batch_size": 64})
    dynamics.fit(model, {"states": states, "actions": actions, "next_states": next_states},
                 torch.Generator().manual_seed(1))
    return model


def train_checking_every_step(rank: int, out: str) -> None:
    """fit_policy on this rank's shards; after every step every rank must hold rank 0's parameters."""
    checked = []

    def checking_minimize(params, loss_at, **kwargs):
        params = list(params)

        def after(step: int) -> None:
            distributed.check_in_sync(params)  # raises if any rank differs from rank 0
            checked.append(step)
        return minimize(params, loss_at, after_step=after, **kwargs)

    bc_train.minimize = checking_minimize
    losses = {}
    policy = fit_policy(*data(), CFG, None, log=lambda step, s: losses.update({step: s["loss"]}),
                        progress=False)
    torch.save({"state": policy.state_dict(), "checked": checked, "losses": losses},
               Path(out) / f"rank{rank}.pt")
    bc_train.minimize = minimize


def train_interrupted(out: str) -> None:
    """Minimize on shards, saving the state every 5 steps, and stop at step 12 (an interruption)."""
    model, gen, loss_at = tiny_problem()

    def interrupted(step: int) -> torch.Tensor:
        if step == 12:
            raise KeyboardInterrupt
        return loss_at(step)
    state = TrainState(Path(out) / "train_state.pt", {"model": model}, {"batches": gen}, every=5)
    try:
        minimize(model.parameters(), interrupted, steps=20, lr=1e-2, weight_decay=0.0, log=lambda *a: None,
                 progress=False, desc="", state=state)
    except KeyboardInterrupt:
        pass


def tiny_problem():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x = torch.randn(64, 4)
    y = x.sum(1, keepdim=True).sin()
    gen = torch.Generator().manual_seed(1)
    shard_loss = distributed.data_parallel(model, lambda a, b: ((model(a) - b) ** 2).mean())

    def loss_at(step: int) -> torch.Tensor:
        idx = distributed.shard(torch.randint(64, (16,), generator=gen))
        return shard_loss(x[idx], y[idx])
    return model, gen, loss_at


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory, demo_dataset) -> Path:
    """What two spawned gloo processes left: their BC runs, an interrupted run's state, a diffusion run."""
    out = tmp_path_factory.mktemp("ranks")
    torch.multiprocessing.spawn(ranks_at_work, args=(2, free_port(), str(out), str(demo_dataset)), nprocs=2)
    return out


def test_two_gloo_processes_keep_identical_parameters_and_follow_one_process(two_ranks) -> None:
    tmp_path = two_ranks
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    assert ranks[0]["checked"] == ranks[1]["checked"] == list(range(CFG.steps))
    for key, value in ranks[0]["state"].items():
        assert torch.equal(value, ranks[1]["state"][key]), key
    single_losses = {}
    single = fit_policy(*data(), CFG, None, log=lambda step, s: single_losses.update({step: s["loss"]}),
                        progress=False)
    for key, value in single.state_dict().items():  # the same global batches: the same run, up to rounding
        torch.testing.assert_close(ranks[0]["state"][key], value, atol=1e-4, rtol=1e-4)
    assert ranks[0]["losses"].keys() == single_losses.keys()
    np.testing.assert_allclose(list(ranks[0]["losses"].values()), list(single_losses.values()), rtol=1e-4)


def test_a_run_interrupted_at_two_processes_resumes_in_one(two_ranks) -> None:
    tmp_path = two_ranks
    assert torch.load(tmp_path / "train_state.pt", weights_only=True)["step"] == 10
    model, gen, loss_at = tiny_problem()
    state = TrainState(tmp_path / "train_state.pt", {"model": model}, {"batches": gen}, resume=True)
    minimize(model.parameters(), loss_at, steps=20, lr=1e-2, weight_decay=0.0, log=lambda *a: None,
             progress=False, desc="", state=state)
    straight, _, straight_loss = tiny_problem()
    minimize(straight.parameters(), straight_loss, steps=20, lr=1e-2, weight_decay=0.0, log=lambda *a: None,
             progress=False, desc="")
    for a, b in zip(model.parameters(), straight.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_diffusion_trains_data_parallel_with_the_same_weights_on_both_ranks(two_ranks) -> None:
    ranks = [torch.load(two_ranks / f"diffusion_rank{r}.pt", weights_only=True) for r in range(2)]
    assert ranks[0].keys() == ranks[1].keys() and all(torch.equal(ranks[0][k], ranks[1][k]) for k in ranks[0])
    assert torch.load(two_ranks / "diffusion" / "train_state.pt", weights_only=True)["step"] == 4


def test_dynamics_models_fit_data_parallel_like_one_process(two_ranks) -> None:
    ranks = [torch.load(two_ranks / f"dynamics_rank{r}.pt", weights_only=True) for r in range(2)]
    assert all(torch.equal(ranks[0][k], ranks[1][k]) for k in ranks[0])
    alone = fit_dynamics().state_dict()  # one process, the same global batches
    for k, v in alone.items():
        torch.testing.assert_close(ranks[0][k], v, atol=1e-5, rtol=1e-4)


def test_the_global_batch_must_split_evenly(monkeypatch) -> None:
    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    with pytest.raises(ConfigError, match="multiple of 3"):
        distributed.shard(torch.arange(32))


def test_torchrun_trains_bc_and_only_rank0_writes(demo_dataset, tmp_path) -> None:
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(ROOT / "scripts" / "train.py"), f"dataset={demo_dataset}", "agent.steps=20",
         "agent.batch_size=64", "agent.hidden_sizes=[32]", "eval.episodes=2", "eval.videos=0",
         f"hydra.run.dir={run}"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # rank 1 made no run dir of its own
    files = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file() and "tb" not in p.parts)
    assert files == [".hydra/config.yaml", ".hydra/hydra.yaml", ".hydra/overrides.yaml", "checkpoint.pt",
                     "config.yaml", "metrics.json", "train.log", "train_state.pt"]
    assert len(list((run / "tb").iterdir())) == 1  # one TensorBoard event file: rank 0's
    assert proc.stdout.count("run dir:") == 1  # only rank 0 evaluated and reported

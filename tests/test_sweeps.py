"""Hydra multirun: a 2 x 2 sweep composes, launches in parallel (joblib) and folds into one table and plot."""

import itertools
import json
import subprocess
import sys

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from tests.conftest import ROOT

pytest.importorskip("hydra_plugins.hydra_joblib_launcher")


def aggregate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "aggregate_sweep.py"), *args],
                          capture_output=True, text=True, cwd="/", timeout=120)


def fake_job(folder, overrides: list[str], success: float) -> None:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (folder / "metrics.json").write_text(json.dumps({"success_rate": success, "mean_return": -success}))


def test_the_table_has_mean_and_t_interval_over_seeds_per_setting(tmp_path) -> None:
    values = {("5", "0"): 0.5, ("5", "1"): 0.7, ("5", "2"): 0.6, ("10", "0"): 0.9, ("10", "1"): 0.9,
              ("10", "2"): 0.9}
    for i, ((steps, seed), success) in enumerate(values.items()):
        fake_job(tmp_path / str(i), ["dataset=d", f"agent.steps={steps}", f"agent.seed={seed}"], success)
    proc = aggregate(str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "sweep.json").read_text())["rows"]
    assert [r["setting"] for r in rows] == [{"agent.steps": "5"}, {"agent.steps": "10"}]  # numeric order
    five = rows[0]["success_rate"]
    assert rows[0]["seeds"] == 3 and five["mean"] == pytest.approx(0.6)
    half = 4.303 * 0.1 / 3 ** 0.5  # t_{0.975, 2} * s / sqrt(n), s = 0.1
    assert five["ci95"] == pytest.approx([0.6 - half, 0.6 + half])
    assert rows[1]["success_rate"]["ci95"] == pytest.approx([0.9, 0.9])  # no spread over seeds
    assert (tmp_path / "sweep.png").stat().st_size > 0
    assert "agent.steps=10" in (tmp_path / "sweep.md").read_text()
    assert aggregate(str(tmp_path / "nothing")).returncode != 0


def test_a_two_by_two_sweep_composes_with_the_joblib_launcher() -> None:
    with initialize_config_dir(str(ROOT / "configs"), version_base="1.3"):
        for steps, seed in itertools.product((5, 20), (0, 1)):
            cfg = compose("train", return_hydra_config=True, overrides=[
                "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "dataset=demos", f"agent.steps={steps}",
                f"agent.seed={seed}"])
            assert cfg.hydra.launcher._target_.endswith("JoblibLauncher") and cfg.hydra.launcher.n_jobs == 2
            assert (cfg.agent.name, cfg.agent.steps, cfg.agent.seed) == ("bc", steps, seed)
            sweep = OmegaConf.to_container(cfg.hydra.sweep, resolve=False)  # one folder per job
            assert sweep["dir"].startswith("runs/sweep/") and sweep["subdir"] == "${hydra.job.num}"


@pytest.mark.slow  # four train.py jobs in two loky processes: ~30 s on 2 shared cores
def test_a_two_by_two_multirun_launches_in_parallel_and_aggregates(demo_dataset, tmp_path) -> None:
    sweep = tmp_path / "sweep"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), "-m", "hydra/launcher=joblib",
         "hydra.launcher.n_jobs=2", f"dataset={demo_dataset}", "agent.steps=5,20", "agent.seed=0,1",
         "agent.hidden_sizes=[16]", "eval.episodes=2", "eval.videos=0", f"hydra.sweep.dir={sweep}"],
        capture_output=True, text=True, cwd="/", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    launcher = yaml.safe_load((sweep / "multirun.yaml").read_text())["hydra"]["launcher"]
    assert launcher["_target_"].endswith("JoblibLauncher") and launcher["n_jobs"] == 2
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1", "2", "3"]
    proc = aggregate(str(sweep), "--out", str(tmp_path / "table"))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "table" / "sweep.json").read_text())["rows"]
    assert [(r["setting"], r["seeds"]) for r in rows] == [({"agent.steps": "5"}, 2),
                                                          ({"agent.steps": "20"}, 2)]
    assert all(0.0 <= r["success_rate"]["mean"] <= 1.0 for r in rows)

"""The Hydra scripts end to end on a tiny budget: collect -> train -> evaluate -> record video."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dataset import DemoDataset, read_video
from tests.conftest import ROOT


def run(script: str, *overrides: str) -> subprocess.CompletedProcess:
    """Run a script from another directory, as a user would (no reliance on the cwd)."""
    return subprocess.run([sys.executable, str(ROOT / "scripts" / script), *overrides],
                          capture_output=True, text=True, cwd="/", timeout=600)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("runs")
    ok(run("collect_demos.py", "episodes=4", "env.kwargs.obs_mode=rgb", f"hydra.run.dir={tmp}/collect"))
    ok(run("train.py", f"dataset={tmp}/collect/dataset", "agent.steps=30", "agent.hidden_sizes=[32]",
           "eval.episodes=2", "eval.videos=1", f"hydra.run.dir={tmp}/train"))
    return tmp


def test_collect_writes_a_dataset_with_images_and_metrics(pipeline) -> None:
    data = DemoDataset(pipeline / "collect" / "dataset")
    assert len(data) == 4 and data.seeds == [0, 1, 2, 3]
    assert data.episode(0).observations["top_rgb"].shape[1:] == (96, 96, 3)
    assert data.episodes[0].extra["action_noise"] == 0.6  # how the actions were produced is kept
    assert (pipeline / "collect" / "config.yaml").is_file()
    assert json.loads((pipeline / "collect" / "metrics.json").read_text())["episodes"] == 4


def test_train_run_dir_has_everything(pipeline) -> None:
    run_dir = pipeline / "train"
    for name in ("config.yaml", "checkpoint.pt", "metrics.json", "tb"):
        assert (run_dir / name).exists(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["seeds"] == [100000, 100001]
    assert metrics["method"] == "bc" and metrics["perception"] == {"name": "identity", "config": {}}
    lo, hi = metrics["success_ci95"]
    assert 0 <= lo <= metrics["success_rate"] <= hi <= 1
    assert {"mean_return", "mean_length", "outcomes"} <= set(metrics)
    (video,) = metrics["videos"]
    assert read_video(video).shape[0] == metrics["per_episode"][0]["length"] + 1


def test_evaluate_and_record_video_reuse_the_checkpoint(pipeline) -> None:
    ckpt = pipeline / "train" / "checkpoint.pt"
    out = ok(run("evaluate.py", f"checkpoint={ckpt}", "eval.episodes=3", "eval.videos=0",
                 f"hydra.run.dir={pipeline}/eval"))
    assert "success" in out.stdout and "95% CI" in out.stdout
    assert json.loads((pipeline / "eval" / "metrics.json").read_text())["episodes"] == 3
    ok(run("record_video.py", f"checkpoint={ckpt}", "episodes=1", f"hydra.run.dir={pipeline}/video"))
    assert len(list((pipeline / "video" / "videos").glob("*.mp4"))) == 1


def test_evaluating_on_training_seeds_is_refused(pipeline) -> None:
    ckpt = pipeline / "train" / "checkpoint.pt"
    proc = run("evaluate.py", f"checkpoint={ckpt}", "eval.start_seed=0", "eval.episodes=2",
               f"hydra.run.dir={pipeline}/bad")
    assert proc.returncode != 0 and "overlap" in proc.stderr


def test_bad_inputs_fail_with_a_clear_message(tmp_path) -> None:
    proc = run("train.py", f"dataset={tmp_path}", f"hydra.run.dir={tmp_path}/r1")
    assert proc.returncode != 0 and "meta/info.json" in proc.stderr
    proc = run("train.py", f"dataset={tmp_path}", "agent.name=transformer", f"hydra.run.dir={tmp_path}/r2")
    assert proc.returncode != 0 and "known agents" in proc.stderr
    proc = run("collect_demos.py", "episodes=1", "env.kwargs.obs_mode=lidar", f"hydra.run.dir={tmp_path}/r3")
    assert proc.returncode != 0 and "valid choices" in proc.stderr
    proc = run("train.py", "agent=random_search", f"hydra.run.dir={tmp_path}/r4")
    assert proc.returncode != 0 and "pass env=<name>" in proc.stderr
    proc = run("train.py", "env=cart_pole", f"hydra.run.dir={tmp_path}/r5")
    assert proc.returncode != 0 and "learns from demonstrations" in proc.stderr


def test_collection_refuses_to_overwrite_and_resumes_where_it_stopped(tmp_path) -> None:
    ds = tmp_path / "ds"
    ok(run("collect_demos.py", "episodes=2", f"dataset_dir={ds}", f"hydra.run.dir={tmp_path}/c1"))
    proc = run("collect_demos.py", "episodes=3", f"dataset_dir={ds}", f"hydra.run.dir={tmp_path}/c2")
    assert proc.returncode != 0 and "resume=True" in proc.stderr
    ok(run("collect_demos.py", "episodes=3", "resume=true", f"dataset_dir={ds}",
           f"hydra.run.dir={tmp_path}/c3"))
    metrics = json.loads((tmp_path / "c3" / "metrics.json").read_text())
    assert metrics["seeds"] == [2] and DemoDataset(ds).seeds == [0, 1, 2]


def test_an_offline_method_with_its_perception_trains_and_reloads_through_the_scripts(pipeline) -> None:
    """kNN imitation: another offline method, with no change to the loop or the scripts."""
    ok(run("train.py", "agent=knn", f"dataset={pipeline}/collect/dataset", "perception=select_keys",
           "perception.keys=[state,proprio]", "eval.episodes=2", "eval.videos=0",
           f"hydra.run.dir={pipeline}/knn"))
    ckpt = pipeline / "knn" / "checkpoint.pt"
    ok(run("evaluate.py", f"checkpoint={ckpt}", "eval.episodes=2", "eval.videos=0",
           f"hydra.run.dir={pipeline}/knn_eval"))
    metrics = json.loads((pipeline / "knn_eval" / "metrics.json").read_text())
    assert metrics["method"] == "knn"
    assert metrics["perception"] == {"name": "select_keys", "config": {"keys": ["state", "proprio"]}}


def test_an_online_method_trains_in_the_env_and_reloads_through_the_scripts(tmp_path) -> None:
    """Random search learns CartPole by acting: no dataset, the same train/evaluate scripts."""
    out = ok(run("train.py", "agent=random_search", "env=cart_pole", "env.kwargs.horizon=100",
                 "agent.iterations=6", "eval.episodes=3", "eval.videos=0", f"hydra.run.dir={tmp_path}/rs"))
    assert "random_search on roboloop/CartPole-v0: success" in out.stdout
    ckpt = tmp_path / "rs" / "checkpoint.pt"
    ok(run("record_video.py", f"checkpoint={ckpt}", "episodes=1", f"hydra.run.dir={tmp_path}/video"))
    assert len(list((tmp_path / "video" / "videos").glob("*.mp4"))) == 1
    proc = run("evaluate.py", f"checkpoint={ckpt}", "eval.start_seed=10", "eval.episodes=2",
               f"hydra.run.dir={tmp_path}/bad")
    assert proc.returncode != 0 and "overlap" in proc.stderr  # its training episodes used seeds 0..


def test_bc_on_a_discrete_task_trains_and_evaluates(tmp_path) -> None:
    ok(run("collect_demos.py", "env=cart_pole", "action_noise=0", "episodes=3",
           f"hydra.run.dir={tmp_path}/c"))
    out = ok(run("train.py", f"dataset={tmp_path}/c/dataset", "agent.steps=300",
                 "agent.hidden_sizes=[64,64]", "eval.episodes=3", "eval.videos=0",
                 f"hydra.run.dir={tmp_path}/t"))
    metrics = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert metrics["success_rate"] > 0, out.stdout


def test_any_expert_collects_the_planner_on_reach_and_keyboard_needs_a_terminal(tmp_path) -> None:
    ok(run("collect_demos.py", "expert=planner", "env=reach", "episodes=2", "+expert_options.horizon=4",
           f"dataset_dir={tmp_path}/ds", f"hydra.run.dir={tmp_path}/p"))
    data = DemoDataset(tmp_path / "ds")
    assert len(data) == 2 and all(m.extra["expert"] == "planner" for m in data.episodes)
    proc = run("collect_demos.py", "expert=keyboard", "episodes=1", f"hydra.run.dir={tmp_path}/k")
    assert proc.returncode != 0 and "interactive terminal" in proc.stderr

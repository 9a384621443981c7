"""The perception scripts end to end on a tiny budget: render labelled scenes -> train PointNet -> use it."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.test_scripts import ok, run

SMALL = ["model.local_widths=[8,8]", "model.global_widths=[8,16]", "model.head_widths=[8]",
         "model.tnet_widths=[8,8,16]"]


@pytest.fixture(scope="module")
def perception_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("perception")
    ok(run("make_perception_data.py", "splits.train.episodes=2", "splits.val.episodes=1",
           "splits.test.episodes=1", "env.kwargs.horizon=12", "every=4", "cloud.num_points=64",
           f"hydra.run.dir={tmp}/data"))
    ok(run("train_perception.py", f"data={tmp}/data", "train.steps=4", "train.eval_every=2",
           "train.batch_size=2", *SMALL, f"hydra.run.dir={tmp}/train"))
    return tmp


def test_scenes_are_split_by_seed_and_labelled(perception_run) -> None:
    meta = json.loads((perception_run / "data" / "meta.json").read_text())
    assert meta["labels"] == ["table", "pusher", "cube", "goal"] and meta["image_size"] == 96
    with np.load(perception_run / "data" / "train.npz") as f:
        assert f["points"].shape[1:] == (64, 3) and f["labels"].shape[1:] == (64,)
        assert f["centroids"].shape[1:] == (4, 3) and set(f["seeds"].tolist()) == {0, 1}
        assert np.isnan(f["centroids"][:, 0]).all() and np.isfinite(f["centroids"][:, 1:]).all()
    with np.load(perception_run / "data" / "test.npz") as f:
        assert set(f["seeds"].tolist()) == {100_000}


def test_training_writes_a_weights_only_checkpoint_metrics_and_tensorboard(perception_run) -> None:
    train = perception_run / "train"
    ckpt = torch.load(train / "checkpoint.pt", weights_only=True)
    assert ckpt["labels"] == ["table", "pusher", "cube", "goal"] and ckpt["extra"]["image_size"] == 96
    assert ckpt["cloud"]["num_points"] == 64 and "center" in ckpt["normalization"]
    metrics = json.loads((train / "metrics.json").read_text())
    assert {"miou", "centroid_error_m", "object_accuracy"} <= set(metrics["test"])
    assert [h["step"] for h in metrics["validation"]] == [2, 4]
    assert any((train / "tb").iterdir())


def test_evaluate_perception_scores_a_checkpoint_on_other_scenes(perception_run) -> None:
    tmp = perception_run
    ok(run("evaluate_perception.py", f"checkpoint={tmp}/train/checkpoint.pt", f"data={tmp}/data",
           f"hydra.run.dir={tmp}/eval"))
    metrics = json.loads((tmp / "eval" / "metrics.json").read_text())["test"]
    trained = json.loads((tmp / "train" / "metrics.json").read_text())["test"]
    assert metrics["miou"] == pytest.approx(trained["miou"])  # the same test split, the same model


@pytest.mark.slow
def test_train_py_composes_the_pointnet_perception(perception_run) -> None:
    """scripts/train.py perception=pointnet: BC on the model's features of a point-cloud dataset."""
    tmp = perception_run
    ok(run("collect_demos.py", "episodes=2", "env.kwargs.obs_mode=rgb+pointcloud",
           "env.kwargs.cameras=[top,front]", "env.kwargs.horizon=10", f"hydra.run.dir={tmp}/collect"))
    ok(run("train.py", f"dataset={tmp}/collect/dataset", "agent.steps=5", "agent.hidden_sizes=[16]",
           "agent.obs_keys=[cube_centroid,goal_centroid,proprio]", "perception=pointnet",
           f"perception.checkpoint={tmp}/train/checkpoint.pt", "agent.success_only=false", "eval.episodes=1",
           "eval.videos=0",
           f"hydra.run.dir={tmp}/bc"))
    metrics = json.loads((tmp / "bc" / "metrics.json").read_text())
    assert metrics["perception"]["name"] == "pointnet"


def test_train_perception_domain_adversarial_keypoints_and_pointnet(perception_run) -> None:
    """adversarial.target=<scenes>: the target's images (clouds) join training; a plain checkpoint."""
    tmp = perception_run
    heat = ["heatmap.steps=2", "heatmap.eval_every=2", "heatmap.batch_size=2", "heatmap.widths=[4,4,8]"]
    ok(run("train_perception.py", "task=keypoints", f"data={tmp}/data", *heat,
           f"adversarial.target={tmp}/data", "adversarial.hidden=8", f"hydra.run.dir={tmp}/adversarial"))
    ckpt = torch.load(tmp / "adversarial" / "checkpoint.pt", weights_only=True)
    assert ckpt["format"] == "roboloop.perception.keypoints" and ckpt["widths"] == [4, 4, 8]
    assert "pck@1px" in json.loads((tmp / "adversarial" / "metrics.json").read_text())["test"]
    proc = run("train_perception.py", "task=detector", f"data={tmp}/data", *heat,
               f"adversarial.target={tmp}/data", f"hydra.run.dir={tmp}/adversarial_detector")
    assert proc.returncode != 0 and "task=keypoints and task=pointnet only" in proc.stderr
    ok(run("train_perception.py", f"data={tmp}/data", "train.steps=4", "train.eval_every=4",
           "train.batch_size=2", *SMALL, f"adversarial.target={tmp}/data", "adversarial.hidden=8",
           f"hydra.run.dir={tmp}/adversarial_pn"))
    ckpt = torch.load(tmp / "adversarial_pn" / "checkpoint.pt", weights_only=True)
    assert ckpt["format"] == "roboloop.perception.pointnet"  # the domain classifier is not saved
    assert not any(k.startswith("net.") for k in ckpt["state_dict"])


def test_image_scenes_of_any_task_with_one_box_per_puck(tmp_path) -> None:
    """clouds=false renders images of any task; a label naming many objects gets a box per instance."""
    ok(run("make_perception_data.py", "env=push_particles", "clouds=false", "env.kwargs.cameras=[top]",
           "env.kwargs.obs_mode=rgb+depth+segmentation", "env.kwargs.horizon=8", "every=4",
           "splits.train.episodes=1", "splits.val.episodes=0", "splits.test.episodes=0",
           f"out_dir={tmp_path}/pp", f"hydra.run.dir={tmp_path}/log"))
    meta = json.loads((tmp_path / "pp" / "meta.json").read_text())
    assert meta["instance_label"] == "particle" and meta["cloud"] is None and meta["keypoint_names"] is None
    with np.load(tmp_path / "pp" / "train.npz") as f:
        assert "points" not in f.files and f["image_rgb"].shape == (2, 96, 96, 3)
        boxes = f["instance_boxes"]
        assert boxes.shape == (2, 12, 4) and np.isfinite(boxes[0]).all(axis=1).sum() >= 8
        seen = boxes[0][np.isfinite(boxes[0]).all(axis=1)]
        assert ((seen[:, 2:] - seen[:, :2]) > 2).all()  # a 2.4 cm puck spans ~3.5 px at 96x96
    proc = run("make_perception_data.py", "env=reach", f"out_dir={tmp_path}/reach",
               f"hydra.run.dir={tmp_path}/l2")
    assert proc.returncode != 0 and "clouds=false" in proc.stderr


def test_image_scenes_of_a_discrete_action_task(tmp_path) -> None:
    """CartPole's expert acts in Discrete(2): the noise is a random action with probability action_noise."""
    ok(run("make_perception_data.py", "env=cart_pole", "clouds=false", "image_camera=front",
           "env.kwargs.cameras=[front]", "env.kwargs.obs_mode=rgb+depth+segmentation", "env.kwargs.horizon=8",
           "every=4", "action_noise=0.5", "splits.train.episodes=1", "splits.val.episodes=0",
           "splits.test.episodes=0", f"out_dir={tmp_path}/cp", f"hydra.run.dir={tmp_path}/log"))
    meta = json.loads((tmp_path / "cp" / "meta.json").read_text())
    assert meta["labels"] == ["floor", "rail", "cart", "pole"] and meta["instance_label"] is None
    with np.load(tmp_path / "cp" / "train.npz") as f:
        assert f["image_segmentation"].shape == (2, 96, 96) and "keypoints_px" not in f.files

"""PointNet: permutation invariance, T-Nets and their regulariser, centroid votes, overfitting a tiny set,
the checkpoint round trip and the model as a Perception and as an ObservationWrapper."""

import io

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401
from envs.errors import ConfigError
from perception import make_perception
from perception.compose import Compose
from perception.pointcloud import CloudConfig
from perception.pointnet import PointNet, PointNetConfig, TNet, orthogonality_loss, vote_centroids
from perception.pointnet_perception import PointNetPerception
from perception.train_pointnet import PointNetTrainConfig, PointNetTrainer, load_pointnet
from perception.wrapper import PerceptionWrapper

torch.set_num_threads(1)
SMALL = {"local_widths": [16, 16], "global_widths": [16, 32], "head_widths": [16], "tnet_widths": [8, 16, 32]}


def test_outputs_are_invariant_to_point_order() -> None:
    torch.manual_seed(0)
    model = PointNet(PointNetConfig(seg_classes=4, cls_classes=3, **SMALL)).eval()
    x = torch.randn(2, 50, 6)
    perm = torch.randperm(50)
    with torch.no_grad():
        a, b = model(x), model(x[:, perm])
    torch.testing.assert_close(a["global"], b["global"])
    torch.testing.assert_close(a["cls_logits"], b["cls_logits"])
    torch.testing.assert_close(a["seg_logits"][:, perm], b["seg_logits"])
    torch.testing.assert_close(a["offsets"][:, perm], b["offsets"])
    assert a["seg_logits"].shape == (2, 50, 4) and a["offsets"].shape == (2, 50, 3)
    assert a["cls_logits"].shape == (2, 3) and a["feature_transform"].shape == (2, 16, 16)


def test_tnets_start_at_the_identity_and_have_the_right_shapes() -> None:
    for k in (3, 64):
        tnet = TNet(k, (8, 16, 32)).eval()
        out = tnet(torch.randn(4, k, 30))
        assert out.shape == (4, k, k)
        torch.testing.assert_close(out, torch.eye(k).expand(4, k, k))


def test_orthogonality_regulariser() -> None:
    q, _ = torch.linalg.qr(torch.randn(5, 5))
    assert float(orthogonality_loss(q[None])) < 1e-10
    a = 2 * torch.eye(3)[None]  # A A^T = 4 I: ||I - 4I||^2 = 9 * 3
    assert float(orthogonality_loss(a)) == pytest.approx(27.0)
    x = torch.randn(2, 4, 4)
    expected = ((torch.eye(4) - x @ x.transpose(1, 2)) ** 2).sum(dim=(1, 2)).mean()
    torch.testing.assert_close(orthogonality_loss(x), expected)


def test_vote_centroids_average_votes_and_mark_missing_classes() -> None:
    xyz = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [5, 5, 5]]])
    offsets = torch.tensor([[[0.5, 0, 0], [-0.5, 0, 0], [0, 0, 0]]])
    cents, counts = vote_centroids(xyz, offsets, torch.tensor([[1, 1, 2]]), 4)
    torch.testing.assert_close(cents[0, 1], torch.tensor([0.5, 0, 0]))
    torch.testing.assert_close(cents[0, 2], torch.tensor([5.0, 5, 5]))
    assert torch.isnan(cents[0, 3]).all() and counts[0].tolist() == [0, 2, 1, 0]


def tiny_scenes(n: int, seed: int) -> dict[str, np.ndarray]:
    """Two coloured blobs (labels 1, 2) at random places: their centroids are the blob centres."""
    rng = np.random.default_rng(seed)
    pts, cols, labels, cents = [], [], [], []
    for _ in range(n):
        centres = rng.uniform(-0.2, 0.2, (2, 3))
        p = np.concatenate([c + rng.normal(0, 0.01, (32, 3)) for c in centres])
        col = np.repeat([[0.9, 0.1, 0.1], [0.1, 0.1, 0.9]], 32, axis=0)
        pts.append(p)
        cols.append(col)
        labels.append(np.repeat([1, 2], 32))
        cents.append(centres)
    return {"points": np.asarray(pts, np.float32), "colors": np.asarray(cols, np.float32),
            "labels": np.asarray(labels, np.uint8), "centroids": np.asarray(cents, np.float32)}


@pytest.fixture(scope="module")
def trained() -> PointNetTrainer:
    scenes = tiny_scenes(8, 0)
    trainer = PointNetTrainer(["red", "blue"], CloudConfig(workspace=[-0.3, 0.3, -0.3, 0.3, -0.3, 0.3]),
                              PointNetConfig(seg_classes=3, cls_classes=3, **SMALL),
                              PointNetTrainConfig(steps=150, batch_size=8, lr=5e-3, object_points=32,
                                                  eval_every=150))
    history = trainer.fit(scenes, scenes, progress=False)
    trainer.history = history
    trainer.scenes = scenes
    return trainer


def test_overfits_a_tiny_set(trained) -> None:
    metrics = trained.history[-1]
    assert metrics["miou"] > 0.98, metrics
    assert metrics["object_accuracy"] > 0.95, metrics
    assert metrics["centroid_error_mean_m"] < 0.02, metrics  # blobs spread 1 cm; scenes span 40 cm


def test_checkpoint_loads_weights_only_and_predicts_the_same(trained, tmp_path) -> None:
    path = tmp_path / "pointnet.pt"
    torch.save(trained.checkpoint({"image_size": 48}), path)
    torch.load(path, weights_only=True)  # nothing but tensors and plain containers
    predictor, meta = load_pointnet(str(path))
    assert meta["labels"] == ["red", "blue"] and meta["extra"]["image_size"] == 48
    assert meta["normalization"]["scale"] == pytest.approx(0.3)
    s = trained.scenes
    ours = predictor(s["points"][:2], s["colors"][:2])
    trained.model.eval()
    with torch.no_grad():
        logits = trained.model(trained.norm.inputs(s["points"][:2], s["colors"][:2]))["seg_logits"]
    np.testing.assert_array_equal(ours["labels"], logits.argmax(-1).numpy())
    buffer = io.BytesIO()
    torch.save({"format": "something else"}, buffer)
    (tmp_path / "bad.pt").write_bytes(buffer.getvalue())
    with pytest.raises(ConfigError, match="not a PointNet perception checkpoint"):
        load_pointnet(str(tmp_path / "bad.pt"))


@pytest.fixture(scope="module")
def push_cube_checkpoint(tmp_path_factory) -> str:
    """An untrained PushCube PointNet checkpoint at 48x48 (shapes and errors only)."""
    trainer = PointNetTrainer(["table", "pusher", "cube", "goal"],
                              CloudConfig(cameras=["top", "front"], num_points=64),
                              PointNetConfig(seg_classes=5, cls_classes=5, **SMALL))
    path = tmp_path_factory.mktemp("ckpt") / "pointnet.pt"
    torch.save(trainer.checkpoint({"image_size": 48}), path)
    return str(path)


def test_perception_features_and_wrapper(push_cube_checkpoint) -> None:
    env = gym.make("roboloop/PushCube-v0", obs_mode="rgb+pointcloud", cameras="all", image_size=48,
                   privileged_state=True, horizon=5)
    module = make_perception({"name": "pointnet", "checkpoint": push_cube_checkpoint, "point_features": True})
    assert isinstance(module, PointNetPerception)
    wrapped = PerceptionWrapper(env, module, passthrough=["state"])
    obs, _ = wrapped.reset(seed=0)
    assert set(obs) == {"cube_centroid", "goal_centroid", "centroid_visible", "point_features", "proprio",
                        "state"}
    assert wrapped.observation_space.contains(obs), {k: (v.shape, v.dtype) for k, v in obs.items()}
    obs, *_ = wrapped.step(wrapped.action_space.sample())
    assert obs["cube_centroid"].shape == (3,) and np.isfinite(obs["cube_centroid"]).all()
    assert make_perception(module.spec()).spec() == module.spec()
    wrapped.close()


def test_perception_refuses_mismatched_envs_and_inputs(push_cube_checkpoint) -> None:
    module = PointNetPerception(push_cube_checkpoint)
    env = gym.make("roboloop/PushCube-v0", obs_mode="rgb+pointcloud", cameras="all", image_size=32)
    with pytest.raises(ConfigError, match="trained on 48x48 images but the env renders 32x32"):
        PerceptionWrapper(env, module)
    obs, _ = env.reset(seed=0)
    with pytest.raises(ConfigError, match="48x48"):
        module(obs)
    env.close()
    with pytest.raises(ConfigError, match="among the checkpoint's labels"):
        PointNetPerception(push_cube_checkpoint, objects=["mug"])
    with pytest.raises(KeyError, match="dict observation"):
        module(np.zeros(14, np.float32))


def test_compose_merges_features_and_refuses_disagreements(push_cube_checkpoint) -> None:
    env = gym.make("roboloop/PushCube-v0", obs_mode="rgb+pointcloud", cameras="all", image_size=48, horizon=3)
    obs, _ = env.reset(seed=0)
    pointnet = {"name": "pointnet", "checkpoint": push_cube_checkpoint}
    select = {"name": "select_keys", "keys": ["top_rgb"]}
    module = make_perception({"name": "compose", "modules": [pointnet, select]})
    features = module(obs)
    assert {"cube_centroid", "goal_centroid", "proprio", "top_rgb"} <= set(features)
    assert make_perception(module.spec()).spec() == module.spec()
    wrapped = PerceptionWrapper(env, make_perception({"name": "compose", "modules": [pointnet]}))
    assert wrapped.observation_space.contains(wrapped.reset(seed=1)[0])

    class Liar:
        def reset(self) -> None:
            pass

        def __call__(self, obs):
            return {"proprio": np.zeros(4, np.float32) + 7}

    with pytest.raises(ConfigError, match="disagree on feature 'proprio'"):
        Compose([PointNetPerception(push_cube_checkpoint), Liar()])(obs)
    env.close()

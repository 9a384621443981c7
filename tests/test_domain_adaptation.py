"""Gradient reversal and domain-adversarial keypoint training (perception/domain_adaptation.py)."""

import numpy as np
import pytest
import torch

from envs.errors import ConfigError
from perception.domain_adaptation import (
    AdversarialConfig,
    AdversarialKeypointLoss,
    DomainClassifier,
    GradientReversal,
    PointDomainAlignment,
    adapt_batch_norm,
    fit_keypoints_adversarial,
    reverse_gradient,
)
from perception.heatmap import ImageNormalization
from perception.keypoints import HeatmapTrainConfig, KeypointModel
from tests.test_keypoints_detector import squares

torch.set_num_threads(1)


@pytest.mark.parametrize("scale", [0.0, 0.5, 1.0, 3.0])
def test_gradient_reversal_is_identity_forward_and_negates_backward(scale: float) -> None:
    x = torch.randn(4, 3, requires_grad=True)
    y = GradientReversal(scale)(x)
    assert torch.equal(y, x)
    upstream = torch.randn(4, 3)
    y.backward(upstream)
    assert torch.allclose(x.grad, -scale * upstream)
    # the function form, inside a longer graph: d/dx of sum(reverse(x)^2) = -scale * 2x
    x2 = torch.randn(5, requires_grad=True)
    (reverse_gradient(x2, scale) ** 2).sum().backward()
    assert torch.allclose(x2.grad, -scale * 2 * x2.detach())


def test_bad_configs_fail_with_the_value() -> None:
    with pytest.raises(ConfigError, match="-1"):
        GradientReversal(-1.0)
    with pytest.raises(ConfigError, match="weight.*-0.5"):
        AdversarialConfig(weight=-0.5)
    with pytest.raises(ConfigError, match="target_fraction"):
        AdversarialConfig(target_fraction=0)
    ramp = AdversarialConfig(weight=0.4)
    assert ramp.scale(0.0) == 0.0 and ramp.scale(1.0) == pytest.approx(0.4, abs=1e-4)


def test_domain_classifier_pushes_the_encoder_the_other_way() -> None:
    """The classifier's own weights descend its loss; the features it reads get the reversed gradient."""
    torch.manual_seed(0)
    features = torch.randn(6, 8, 3, 3, requires_grad=True)
    labels = torch.tensor([0, 0, 0, 1, 1, 1], dtype=torch.float32)
    clf = DomainClassifier(8, hidden=8, scale=1.0)
    torch.nn.functional.binary_cross_entropy_with_logits(clf(features), labels).backward()
    reversed_grad = features.grad.clone()
    features.grad = None
    clf.reversal.scale = 0.0
    plain = torch.nn.functional.binary_cross_entropy_with_logits(clf.net(features).squeeze(-1), labels)
    plain.backward()
    assert torch.allclose(reversed_grad, -features.grad)


def shifted(scenes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same kind of scenes in another "renderer": darker background, brighter squares."""
    rgb = scenes["image_rgb"].astype(np.int16)
    background = (scenes["image_segmentation"] == 0)[..., None]
    rgb = np.where(background, rgb - 60, np.minimum(rgb + 20, 255))
    return {**scenes, "image_rgb": rgb.clip(0, 255).astype(np.uint8)}


def test_adversarial_step_runs_and_reduces_its_loss_on_a_tiny_set() -> None:
    torch.manual_seed(0)
    source, target = squares(8, seed=1), shifted(squares(8, seed=2))
    names = ["corner"] * 4 + ["centre"]
    config = HeatmapTrainConfig(steps=60, batch_size=4, lr=5e-3, widths=[8, 8, 16], sigma=1.0, eval_every=60)
    model = KeypointModel(names, ImageNormalization(0.99, 0.01), config.widths)
    clf = DomainClassifier(16, hidden=16)
    loss = AdversarialKeypointLoss(model, clf, source, target, config, AdversarialConfig(weight=0.3))
    opt = torch.optim.Adam([*model.net.parameters(), *clf.parameters()], lr=config.lr)
    batch = np.arange(4)
    values, parts = [], []
    for _ in range(config.steps):
        value = loss(batch)
        opt.zero_grad()
        value.backward()
        opt.step()
        values.append(float(value.detach()))
        parts.append(loss.last)
    assert set(parts[0]) == {"keypoint_loss", "domain_loss", "domain_accuracy", "reversal_scale"}
    assert parts[0]["reversal_scale"] == 0.0 and parts[-1]["reversal_scale"] > 0.25
    # the total falls; its keypoint part (the labelled source) most, the domain part stays near log 2
    assert np.mean(values[-5:]) < 0.85 * np.mean(values[:5])
    assert parts[-1]["keypoint_loss"] < 0.5 * parts[0]["keypoint_loss"]
    assert 0.3 < parts[-1]["domain_loss"] < 1.0


def test_fit_keypoints_adversarial_returns_a_working_model() -> None:
    source, target = squares(12, seed=3), shifted(squares(12, seed=4))
    names = ["corner"] * 4 + ["centre"]
    config = HeatmapTrainConfig(steps=40, batch_size=4, lr=5e-3, widths=[8, 8, 16], sigma=1.0, eval_every=40)
    logged = []
    model, history = fit_keypoints_adversarial(names, source, source, target, config, AdversarialConfig(),
                                               log=lambda step, s: logged.append(s), progress=False)
    assert len(history) == 1 and 0.0 <= history[0]["pck@3px"] <= 1.0
    assert "domain_loss" in logged[0]
    pred, _ = model.predict(target["image_rgb"][:2], target["image_depth"][:2])
    assert pred.shape == (2, 5, 2)


def test_adapt_batch_norm_takes_the_target_statistics_and_keeps_the_weights() -> None:
    torch.manual_seed(0)
    names = ["corner"] * 4 + ["centre"]
    model = KeypointModel(names, ImageNormalization(0.99, 0.01), [8, 8, 16])
    target = shifted(squares(10, seed=5))
    weights = {k: v.clone() for k, v in model.net.state_dict().items()
               if "running" not in k and "num_batches" not in k}
    adapt_batch_norm(model, target["image_rgb"], target["image_depth"], batch_size=4)
    first_conv, first_bn = model.net.down1[0][0], model.net.down1[0][1]
    with torch.no_grad():
        x = first_conv(model.norm.inputs(target["image_rgb"], target["image_depth"]))
    # batches of 4, 4, 2 averaged equally: the mean of per-batch means
    means = torch.stack([x[i:i + 4].mean(dim=(0, 2, 3)) for i in (0, 4, 8)]).mean(0)
    assert torch.allclose(first_bn.running_mean, means, atol=1e-5)
    assert first_bn.momentum == 0.1 and not model.net.training
    after = model.net.state_dict()
    assert all(torch.equal(after[k], v) for k, v in weights.items())


def test_depth_clipping_keeps_far_pixels_from_dominating() -> None:
    """Randomized cameras see past the table (depth at the far plane); depth_max clips them."""
    rgb, depth = np.zeros((1, 8, 8, 3), np.uint8), np.full((1, 8, 8), 0.8, np.float32)
    depth[0, 0, 0] = 3.0
    x = ImageNormalization(0.8, 0.01, depth_max=1.0).inputs(rgb, depth)
    assert float(x[0, 3, 0, 0]) == pytest.approx(20.0) and float(x[0, 3, 4, 4]) == pytest.approx(0.0)
    old = ImageNormalization(**{"depth_center": 0.8, "depth_scale": 0.01})  # a checkpoint from before
    assert old.depth_max is None and float(old.inputs(rgb, depth)[0, 3, 0, 0]) == pytest.approx(220.0)
    with pytest.raises(ConfigError, match="depth_max.*-1"):
        HeatmapTrainConfig(depth_max=-1.0)


def test_domain_adversarial_pointnet_trains_on_source_labels_and_fights_the_domain_classifier() -> None:
    """Target clouds join each forward pass; only their domain is scored; the PointNet still learns."""
    from perception.pointcloud import CloudConfig
    from perception.pointnet import PointNetConfig
    from perception.train_pointnet import PointNetTrainConfig, PointNetTrainer
    from tests.test_pointnet import SMALL, tiny_scenes

    source = tiny_scenes(8, 0)
    target = tiny_scenes(8, 1)
    target = {"points": target["points"] + np.float32(0.02), "colors": target["colors"] * np.float32(0.7)}
    trainer = PointNetTrainer(["red", "blue"], CloudConfig(workspace=[-0.3, 0.3, -0.3, 0.3, -0.3, 0.3]),
                              PointNetConfig(seg_classes=3, cls_classes=3, **SMALL),
                              PointNetTrainConfig(steps=150, batch_size=8, lr=5e-3, object_points=32,
                                                  eval_every=150))
    trainer.domain = PointDomainAlignment(target, trainer.norm.inputs, SMALL["global_widths"][-1],
                                          AdversarialConfig(weight=0.3, hidden=16), steps=150)
    assert trainer.domain.target_inputs(8).shape == (4, 64, 6)  # target_fraction 0.5
    logged: list[dict] = []
    history = trainer.fit(source, source, log=lambda step, s: logged.append(s), progress=False)
    assert history[-1]["miou"] > 0.95, history[-1]  # the labelled source is still learned
    steps = [s for s in logged if "loss" in s]  # every 50 steps; validation logs its own keys
    assert len(steps) == 3 and {"domain", "domain_accuracy", "reversal_scale"} <= set(steps[0])
    assert steps[0]["reversal_scale"] < steps[-1]["reversal_scale"] and steps[-1]["reversal_scale"] > 0.25
    assert trainer.domain.net[0].weight.grad is not None  # the classifier is trained with the PointNet
    with pytest.raises(ConfigError, match="colors"):
        PointDomainAlignment({"points": target["points"]}, trainer.norm.inputs, 32, AdversarialConfig(), 10)

"""Domain-adversarial training (Ganin & Lempitsky, 2015) for the heatmap keypoints and the PointNet.

A small domain classifier reads the encoder's bottleneck features through a gradient-reversal
layer and learns to tell source scenes (labelled, e.g. MuJoCo renders) from target scenes
(unlabelled, e.g. PyBullet renders). The reversal layer is the identity going forward and
multiplies the gradient by ``-scale`` going back, so the same backward pass that trains the
classifier pushes the encoder towards features the classifier cannot separate. The keypoint loss
sees only source labels; target scenes contribute images only.

Source and target images go through the network as one batch, so batch norm's statistics are
those of the mixture (the model is evaluated on target scenes with statistics learned on both).
For the PointNet (``PointDomainAlignment``) the classifier reads the global (max-pooled) feature
of source and target clouds, which feeds every head.
The reversal scale ramps from 0 to ``weight`` as in the paper: ``weight * (2 / (1 + exp(-gamma p)) - 1)``
with ``p`` the fraction of training done, so the classifier is not fought before features exist.
"""

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from envs.errors import ConfigError
from perception.heatmap import ImageNormalization, heatmap_loss
from perception.keypoints import HeatmapTrainConfig, KeypointModel, evaluate_keypoints, fit_loop, target_maps


class _ReverseGradient(torch.autograd.Function):
    """Identity forward; gradient times ``-scale`` backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scale: float) -> torch.Tensor:
        """Return ``x`` unchanged (a view, so autograd records this node)."""
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        """Negate and scale the incoming gradient; ``scale`` gets none."""
        return -ctx.scale * grad, None


def reverse_gradient(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``x`` going forward; ``-scale`` times the gradient going back."""
    return _ReverseGradient.apply(x, float(scale))


class GradientReversal(nn.Module):
    """The gradient-reversal layer as a module; ``scale`` may be changed during training."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        if scale < 0:
            raise ConfigError(f"GradientReversal scale must be >= 0, got {scale}")
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Identity; the backward pass negates and scales."""
        return reverse_gradient(x, self.scale)


class DomainClassifier(nn.Module):
    """(B, C, h, w) features -> (B,) logits of "target domain", behind a gradient-reversal layer."""

    def __init__(self, channels: int, hidden: int = 64, scale: float = 1.0) -> None:
        super().__init__()
        self.reversal = GradientReversal(scale)
        self.net = nn.Sequential(nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Domain logits; gradients flowing back into ``features`` are reversed."""
        return self.net(self.reversal(features)).squeeze(-1)


def domain_loss(logits: torch.Tensor, n_source: int) -> tuple[torch.Tensor, float]:
    """Cross-entropy of "is target" for (source first, then target) logits, and its accuracy."""
    is_target = torch.cat([torch.zeros(n_source), torch.ones(len(logits) - n_source)])
    loss = nn.functional.binary_cross_entropy_with_logits(logits, is_target)
    return loss, float(((logits.detach() > 0).float() == is_target).float().mean())


@dataclass
class AdversarialConfig:
    """The domain-adversarial part of a keypoint training run."""

    weight: float = 0.3  # the reversal scale at the end of the ramp (the paper's lambda)
    gamma: float = 10.0  # ramp steepness: scale = weight * (2 / (1 + exp(-gamma * progress)) - 1)
    hidden: int = 64  # the domain classifier's width
    target_fraction: float = 0.5  # target images per source image in a batch

    def __post_init__(self) -> None:
        """Validate values so a bad config fails before any work is done."""
        if self.weight < 0:
            raise ConfigError(f"AdversarialConfig.weight must be >= 0, got {self.weight}")
        for name in ("gamma", "hidden", "target_fraction"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"AdversarialConfig.{name} must be > 0, got {getattr(self, name)}")

    def scale(self, progress: float) -> float:
        """The reversal scale at ``progress`` in [0, 1] of training."""
        return self.weight * (2.0 / (1.0 + math.exp(-self.gamma * progress)) - 1.0)


class AdversarialKeypointLoss:
    """Callable ``batch -> loss``: the source keypoint loss plus the domain classifier's cross-entropy.

    ``batch`` indexes the labelled source scenes; as many target images (times ``target_fraction``)
    are drawn at random from ``target`` (only ``image_rgb`` and ``image_depth`` are read). The last
    call's parts are in ``last`` (keypoint loss, domain loss, domain accuracy, scale).
    """

    def __init__(self, model: KeypointModel, classifier: DomainClassifier, source: Mapping[str, np.ndarray],
                 target: Mapping[str, np.ndarray], config: HeatmapTrainConfig, adversarial: AdversarialConfig,
                 seed: int = 0) -> None:
        self.model, self.classifier, self.source, self.target = model, classifier, source, target
        self.config, self.adversarial = config, adversarial
        self.rng = np.random.default_rng(seed + 1)
        self.calls = 0
        self.last: dict[str, float] = {}

    def __call__(self, batch: np.ndarray) -> torch.Tensor:
        """One step's loss; the reversal scale follows the ramp over ``config.steps`` calls."""
        progress = min(self.calls / self.config.steps, 1.0)
        self.calls += 1
        self.classifier.reversal.scale = self.adversarial.scale(progress)
        n_target = max(1, round(len(batch) * self.adversarial.target_fraction))
        other = self.rng.integers(len(self.target["image_rgb"]), size=n_target)
        rgb = np.concatenate([self.source["image_rgb"][batch], self.target["image_rgb"][other]])
        depth = np.concatenate([self.source["image_depth"][batch], self.target["image_depth"][other]])
        logits, features = self.model.net.forward_with_features(self.model.norm.inputs(rgb, depth))
        truth = target_maps(self.model, self.source, batch, self.config.sigma)
        keypoint = heatmap_loss(logits[:len(batch)], truth)
        domain, accuracy = domain_loss(self.classifier(features), len(batch))
        self.last = {"keypoint_loss": float(keypoint.detach()), "domain_loss": float(domain.detach()),
                     "domain_accuracy": accuracy, "reversal_scale": self.classifier.reversal.scale}
        return keypoint + domain


class PointDomainAlignment(nn.Module):
    """The domain-adversarial term of a PointNet training run (``PointNetTrainer.domain``).

    Each step :meth:`target_inputs` draws unlabelled target clouds to join the source batch (one
    forward pass, so batch norm sees the mixture) and :meth:`loss` scores the domain classifier on
    the global features of both; its reversed gradient pushes the PointNet towards global features
    the classifier cannot separate. ``target`` needs only ``points`` and ``colors``.
    """

    def __init__(self, target: Mapping[str, np.ndarray],
                 inputs: Callable[[np.ndarray, np.ndarray], torch.Tensor], features: int,
                 adversarial: AdversarialConfig, steps: int, seed: int = 0) -> None:
        super().__init__()
        for key in ("points", "colors"):
            if key not in target:
                raise ConfigError(f"the target scenes have no {key!r} (keys: {sorted(target)}); render "
                                  "clouds with scripts/make_perception_data.py clouds=true")
        self.target, self.inputs, self.adversarial, self.steps = target, inputs, adversarial, steps
        self.reversal = GradientReversal(0.0)
        h = adversarial.hidden
        self.net = nn.Sequential(nn.Linear(features, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
                                 nn.Linear(h, 1))
        self.rng = np.random.default_rng(seed + 1)
        self.calls = 0

    def target_inputs(self, n_source: int) -> torch.Tensor:
        """Network inputs of ``n_source * target_fraction`` (at least 1) random target clouds."""
        n = max(1, round(n_source * self.adversarial.target_fraction))
        idx = self.rng.integers(len(self.target["points"]), size=n)
        return self.inputs(self.target["points"][idx], self.target["colors"][idx])

    def loss(self, features: torch.Tensor, n_source: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Cross-entropy of "is target" on (source + target, G) features; the ramp advances one step."""
        self.reversal.scale = self.adversarial.scale(min(self.calls / self.steps, 1.0))
        self.calls += 1
        loss, accuracy = domain_loss(self.net(self.reversal(features)).squeeze(-1), n_source)
        return loss, {"domain_accuracy": accuracy, "reversal_scale": self.reversal.scale}


def fit_keypoints_adversarial(names: Sequence[str], source: Mapping[str, np.ndarray],
                              val: Mapping[str, np.ndarray], target: Mapping[str, np.ndarray],
                              config: HeatmapTrainConfig, adversarial: AdversarialConfig,
                              log: Callable | None = None,
                              progress: bool = True) -> tuple[KeypointModel, list[dict]]:
    """Train a keypoint model on labelled ``source`` scenes and unlabelled ``target`` images.

    Validation uses ``val`` (labelled, from the source: nothing of the target's labels is used).
    The image normalization is fitted on both domains' depth. Returns the model and its history.
    """
    torch.manual_seed(config.seed)
    depth = np.concatenate([source["image_depth"].ravel(), target["image_depth"].ravel()])
    model = KeypointModel(names, ImageNormalization(float(depth.mean()), float(depth.std() + 1e-6)),
                          config.widths)
    classifier = DomainClassifier(config.widths[2], adversarial.hidden)
    loss = AdversarialKeypointLoss(model, classifier, source, target, config, adversarial, config.seed)

    def log_parts(step: int, scalars: dict[str, float]) -> None:
        if log is not None:
            log(step, {**scalars, **loss.last})

    both = nn.ModuleDict({"net": model.net, "domain": classifier})
    history = fit_loop(both, config, loss, len(source["image_depth"]), lambda: evaluate_keypoints(model, val),
                       log_parts, progress, "keypoints (adversarial)")
    return model, history


@torch.no_grad()
def reestimate_batch_norm(net: nn.Module, batches: Iterable[torch.Tensor]) -> None:
    """AdaBN (Li et al., 2016) for any network: every batch norm's statistics from ``batches`` alone.

    No weight changes: each batch norm (1-D or 2-D) forgets its running mean and variance and takes
    the cumulative average over the batches of network inputs. ``net`` is left in eval mode.
    """
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch counts equally
    net.train()
    try:
        for x in batches:
            net(x)
    finally:
        for m, momentum in zip(norms, saved, strict=True):
            m.momentum = momentum
        net.eval()


def adapt_batch_norm(model: KeypointModel, rgb: np.ndarray, depth: np.ndarray, batch_size: int = 32) -> None:
    """AdaBN for the keypoint model: batch-norm statistics of unlabelled target images.

    ``rgb`` (N, H, W, 3) / ``depth`` (N, H, W), in batches of ``batch_size``; see
    :func:`reestimate_batch_norm`. The model is left in eval mode.
    """
    reestimate_batch_norm(model.net, (model.norm.inputs(rgb[i:i + batch_size], depth[i:i + batch_size])
                                      for i in range(0, len(rgb), batch_size)))

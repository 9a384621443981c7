"""The denoiser exported to ONNX and run under ONNX Runtime, inside the same sampling loop.

Only the denoiser network crosses over (inputs: the noisy chunk (B, Tp, Da), the step (B,) as
float32, the condition (B, F); output: (B, Tp, Da)); the observation encoders and the sampler
stay in torch, so one sampling loop serves both backends.
"""

import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from agents.diffusion.model import DiffusionModel


class _FloatStep(nn.Module):
    """The denoiser with a float step input (ONNX graphs keep one input dtype per name)."""

    def __init__(self, denoiser: nn.Module) -> None:
        super().__init__()
        self.denoiser = denoiser

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Same as the denoiser."""
        return self.denoiser(x, t, cond)


def export_denoiser(model: DiffusionModel, path: str | Path) -> Path:
    """Write the denoiser as an ONNX graph with a dynamic batch dimension."""
    path = Path(path)
    cfg = model.cfg
    x = torch.zeros(1, cfg.action_horizon, model.action_dim)
    t = torch.zeros(1)
    cond = torch.zeros(1, model.cond_dim)
    batch = torch.export.Dim("batch", min=1, max=4096)
    torch.onnx.export(_FloatStep(model.denoiser).eval(), (x, t, cond), str(path),
                      input_names=["x", "t", "cond"], output_names=["out"], dynamo=True, optimize=True,
                      verbose=False,
                      dynamic_shapes={"x": {0: batch}, "t": {0: batch}, "cond": {0: batch}})
    return path


class OnnxDenoiser:
    """``denoise(x, t, cond)`` over an ONNX Runtime session (single-threaded, like the tests)."""

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    @classmethod
    def from_model(cls, model: DiffusionModel, threads: int = 1) -> "OnnxDenoiser":
        """Export ``model``'s denoiser to a temporary file and load it."""
        with tempfile.TemporaryDirectory() as tmp:
            return cls(export_denoiser(model, Path(tmp) / "denoiser.onnx"), threads)

    def __call__(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The denoiser's output as a torch tensor."""
        feeds = {"x": x.numpy().astype(np.float32), "t": t.numpy().astype(np.float32),
                 "cond": cond.numpy().astype(np.float32)}
        return torch.from_numpy(self.session.run(["out"], feeds)[0])

"""``python -m benchmarks.diffusion_speed``: milliseconds per action chunk of a diffusion policy.

One PushCube-sized policy (state, To = 2, Tp = 16, the default Ta and U-Net) generates chunks
with DDPM-100, DDIM-10, DDIM-4 and rectified flow with 1-4 Euler steps, in four runtimes: eager
PyTorch, ``torch.inference_mode``, ``torch.compile`` and ONNX Runtime (the exported denoiser
inside the same sampling loop). Each figure is the median over repeated chunks of what the agent
does per chunk: encode the observation history, then the sampling loop. Beside it, in the same
run, the peer: the same network stepped by diffusers' ``DDIMScheduler`` / ``DDPMScheduler``
(what LeRobot's diffusion policy uses), so the sampling loop's own overhead is visible as a ratio.
Effective actions per second = Ta / seconds per chunk. One torch thread. Writes
``benchmarks/results/diffusion_speed.{json,md}``. Goal: a configuration with >= 200 actions/s and
<= 5 ms per chunk (its success is measured by scripts/experiments/diffusion_policy.py).
"""

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from benchmarks.timing import median_ms
from dataset import atomic_write_text

OUT = Path(__file__).resolve().parent / "results"
SAMPLERS = {"DDPM-100": ("ddpm", "ddpm", 100), "DDIM-10": ("ddpm", "ddim", 10), "DDIM-4": ("ddpm", "ddim", 4),
            "flow-1": ("flow", "euler", 1), "flow-2": ("flow", "euler", 2), "flow-4": ("flow", "euler", 4)}
OBS_DIM, ACTION_DIM = 10, 2


def make_model(objective: str, down_dims: list[int]):
    """An untrained policy network of PushCube's size (speed does not depend on the weights)."""
    from agents.diffusion.config import DiffusionConfig
    from agents.diffusion.model import DiffusionModel

    cfg = DiffusionConfig(objective=objective, sampler="ddim" if objective == "ddpm" else "euler",
                          down_dims=down_dims)
    torch.manual_seed(0)
    model = DiffusionModel({"state": (OBS_DIM,)}, {"state": "float32"}, cfg, ACTION_DIM)
    model.fit_normalizers({"state": np.random.default_rng(0).normal(size=(64, OBS_DIM)).astype(np.float32)},
                          np.random.default_rng(1).uniform(-1, 1, (64, ACTION_DIM)).astype(np.float32))
    return model.eval()


def ours(model, sampling, denoise, obs):
    """One chunk as the agent computes it."""
    gen = torch.Generator().manual_seed(0)

    def chunk():
        with torch.inference_mode():
            return model.sample(model.encode(obs), denoise, gen, sampling)
    return chunk


def eager(model, sampling, obs):
    """The same with autograd on (what a naive loop pays)."""
    gen = torch.Generator().manual_seed(0)
    return lambda: model.sample(model.encode(obs), None, gen, sampling)


def diffusers_peer(model, sampling, obs):
    """The same network stepped by diffusers' scheduler (the peer)."""
    import diffusers

    kind = diffusers.DDPMScheduler if sampling.sampler == "ddpm" else diffusers.DDIMScheduler
    sched = kind(num_train_timesteps=100, beta_schedule="squaredcos_cap_v2", prediction_type="epsilon",
                 clip_sample=True)
    gen = torch.Generator().manual_seed(0)

    def chunk():
        with torch.inference_mode():
            cond = model.encode(obs)
            x = torch.randn(1, sampling.action_horizon, ACTION_DIM, generator=gen)
            sched.set_timesteps(sampling.inference_steps)
            for t in sched.timesteps:
                out = model.denoiser(x, t.reshape(1), cond)
                x = sched.step(out, t, x, generator=gen).prev_sample
            return model.action_norm.unnormalize(x)
    return chunk


def run(repeats: int, down_dims: list[int]) -> dict:
    """Every sampler in every runtime; the peer beside the DDPM/DDIM rows."""
    from agents.diffusion.export import OnnxDenoiser

    torch.set_num_threads(1)
    obs = {"state": torch.zeros(1, 2, OBS_DIM)}
    rows = []
    models = {obj: make_model(obj, down_dims) for obj in ("ddpm", "flow")}
    onnx = {obj: OnnxDenoiser.from_model(m) for obj, m in models.items()}
    compiled = {obj: torch.compile(m.denoiser, dynamic=False) for obj, m in models.items()}
    for label, (objective, sampler, steps) in SAMPLERS.items():
        model = models[objective]
        sampling = replace(model.cfg, sampler=sampler, inference_steps=steps)
        n = max(5, repeats // steps) if steps > 10 else repeats
        row = {"sampler": label, "steps": steps,
               "eager": median_ms(eager(model, sampling, obs), n),
               "inference_mode": median_ms(ours(model, sampling, None, obs), n),
               "compiled": median_ms(ours(model, sampling, compiled[objective], obs), n),
               "onnxruntime": median_ms(ours(model, sampling, onnx[objective], obs), n)}
        if objective == "ddpm":
            row["diffusers_peer"] = median_ms(diffusers_peer(model, sampling, obs), n)
        rows.append(row)
        print(row, flush=True)
    params = sum(p.numel() for p in models["ddpm"].denoiser.parameters())
    return {"rows": rows, "denoiser_parameters": params, "down_dims": down_dims,
            "action_steps": models["ddpm"].cfg.action_steps,
            "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d")}


def to_markdown(result: dict) -> str:
    """Ms per chunk and actions/s per runtime; the peer's ratio."""
    ta = result["action_steps"]
    runtimes = ("eager", "inference_mode", "compiled", "onnxruntime")
    params = result["denoiser_parameters"] / 1e6
    lines = [f"Denoiser: U-Net {result['down_dims']}, {params:.2f} M parameters; "
             f"Tp = 16, Ta = {ta}; 1 thread; median ms per chunk (actions/s = {ta} / s per chunk).", "",
             "| sampler | " + " | ".join(runtimes) + " | best actions/s | diffusers' scheduler, same net "
             "| ours / diffusers |", "|---|" + "---:|" * (len(runtimes) + 3)]
    for r in result["rows"]:
        best = min(r[k] for k in runtimes)
        peer = r.get("diffusers_peer")
        lines.append(f"| {r['sampler']} | " + " | ".join(f"{r[k]:.2f}" for k in runtimes)
                     + f" | {1000 * ta / best:,.0f} | " + (f"{peer:.2f} | {r['inference_mode'] / peer:.2f}"
                                                           if peer else "- | -") + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--down-dims", type=int, nargs="+", default=None,
                        help="U-Net widths (default: the diffusion config's default)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    from agents.diffusion.config import DiffusionConfig

    result = run(args.repeats, args.down_dims or DiffusionConfig().down_dims)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "diffusion_speed.json", json.dumps(result, indent=2))
    atomic_write_text(args.out / "diffusion_speed.md", to_markdown(result))
    print(to_markdown(result))


if __name__ == "__main__":
    main()

"""Summarize a dataset: episodes, lengths, success, seeds, observation specs and action statistics.

    python scripts/inspect_dataset.py dataset=runs/collect/<stamp>/dataset

Prints the summary and writes to the run directory (runs/inspect/<stamp>/ by default):
config.yaml, summary.json, summary.txt, actions.png (a histogram per action dimension; bar
counts for discrete actions) and frames_<key>.png for each camera (a grid of a few episodes x a
few evenly spaced frames).
"""

import logging
from pathlib import Path

import hydra
import matplotlib
import numpy as np
from omegaconf import DictConfig

from dataset import DemoDataset, describe
from dataset.tools import action_array, is_discrete
from runs import start_run, write_json

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

log = logging.getLogger("roboloop")


def seed_ranges(seeds: list[int]) -> str:
    """Seeds with consecutive runs folded, e.g. '0-99, 200, 205-206'; duplicates are counted."""
    runs: list[list[int]] = []
    for s in sorted(set(seeds)):
        if runs and s == runs[-1][1] + 1:
            runs[-1][1] = s
        else:
            runs.append([s, s])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs) or "none"
    dups = len(seeds) - len(set(seeds))
    return text + (f" ({dups} repeated)" if dups else "")


def report(s: dict) -> str:
    """The summary as a few readable lines."""
    lines = [f"{s['root']}: {s['env_id']} {s['env_kwargs']} at {s['fps']:g} fps",
             f"episodes: {s['episodes']}, frames: {s['frames']}"]
    if s["episodes"]:
        n, rate = s["length"], s["success"]["rate"]
        lines += [f"length: min {n['min']}, mean {n['mean']:.1f}, max {n['max']}",
                  f"success: {s['success']['count']}/{s['episodes']} ({rate:.0%})"]
    lines.append(f"seeds: {seed_ranges(s['seeds'])}")
    lines += [f"observation.{k}: {v['dtype']} {tuple(v['shape'])} ({v['storage']})"
              for k, v in s["observations"].items()]
    a = s["action"]
    lines.append(f"action: dim {a['dim']}{', discrete' if a['discrete'] else ''}")
    if a["discrete"]:
        lines.append("  counts: " + ", ".join(f"{v}: {c}" for v, c in a["counts"].items()))
    elif "mean" in a:
        for name in ("mean", "std", "min", "max"):
            lines.append(f"  {name:4s} " + " ".join(f"{x:+.3f}" for x in a[name]))
    return "\n".join(lines)


def plot_actions(actions: np.ndarray, path: Path, bins: int) -> Path:
    """One panel per action dimension: a histogram, or bar counts for discrete actions."""
    da = actions.shape[1]
    fig, axes = plt.subplots(1, da, figsize=(3 * da, 2.6), squeeze=False)
    for d, ax in enumerate(axes[0]):
        if is_discrete(actions):
            values, counts = np.unique(actions[:, d].astype(np.int64), return_counts=True)
            ax.bar(values, counts)
            ax.set_xticks(values)
        else:
            ax.hist(actions[:, d], bins=bins)
        ax.set_title(f"action[{d}]", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def contact_sheet(data: DemoDataset, key: str, path: Path, episodes: int, frames: int) -> Path:
    """Grid of camera `key`: rows are evenly spaced episodes, columns evenly spaced frames."""
    rows = np.unique(np.linspace(0, len(data) - 1, min(episodes, len(data))).round().astype(int))
    fig, axes = plt.subplots(len(rows), frames, figsize=(1.5 * frames, 1.6 * len(rows)), squeeze=False)
    for r, i in enumerate(rows):
        video = data.episode(int(i), keys=[key]).observations[key]
        for c, t in enumerate(np.linspace(0, len(video) - 1, frames).round().astype(int)):
            ax = axes[r][c]
            ax.imshow(video[t])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"t={t}", fontsize=7)
        meta = data.episodes[int(i)]
        axes[r][0].set_ylabel(f"ep {meta.index}\nseed {meta.seed}", fontsize=7)
    fig.suptitle(key, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


@hydra.main(config_path="../configs", config_name="inspect_dataset", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Print the summary; write summary.json/.txt, actions.png and one contact sheet per camera."""
    out = start_run(cfg)
    data = DemoDataset(cfg.dataset)
    summary = describe(data)
    text = report(summary)
    print(text)
    write_json(out / "summary.json", summary)
    (out / "summary.txt").write_text(text + "\n")
    if not len(data):
        print("no episodes: no plots")
        return
    print(f"action histogram: {plot_actions(action_array(data), out / 'actions.png', cfg.hist_bins)}")
    cameras = [k for k, spec in summary["observations"].items() if spec["storage"] == "video"]
    if not cameras:
        print("no image observations (<cam>_rgb keys): no contact sheet")
    for key in cameras:
        path = contact_sheet(data, key, out / f"frames_{key}.png", cfg.sheet_episodes, cfg.sheet_frames)
        print(f"contact sheet: {path}")


if __name__ == "__main__":
    main()

"""Fold a Hydra multirun into one table and plot: per setting, the mean and 95% interval over seeds.

    python scripts/train.py -m hydra/launcher=joblib hydra.launcher.n_jobs=2 dataset=<demos> ...
        agent.steps=500,2000 agent.seed=0,1,2
    python scripts/aggregate_sweep.py runs/sweep/<stamp>          # -> sweep.{md,json,png} in that folder

Every job folder with a ``metrics.json`` and ``.hydra/overrides.yaml`` is one run. Its overrides
name its setting; overrides whose key ends in ``seed`` (``agent.seed``, ``seed``) are the seeds a
setting is averaged over. The interval is Student's t over the per-seed values (mean +- t * s / sqrt(n)),
the spread of the setting across seeds, not the Wilson interval of one run's episodes.
"""

import argparse
import json
import math
from pathlib import Path

import matplotlib
import numpy as np
import yaml

from dataset.atomic import atomic_write_text
from envs.errors import ConfigError

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# two-sided 95% Student t quantiles t_{0.975, df} for df = 1 .. 30 (larger df: Cornish-Fisher)
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042]


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom."""
    if df <= len(T975):
        return T975[df - 1]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def mean_interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95% t interval (low, high); one value has no spread, so its interval is that value."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, mean, mean
    half = t975(len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return mean, mean - half, mean + half


def load_runs(root: Path) -> list[dict]:
    """Every finished job below ``root``: its overrides (key -> value text) and its metrics."""
    runs = []
    for metrics in sorted(root.rglob("metrics.json")):
        overrides = metrics.parent / ".hydra" / "overrides.yaml"
        if not overrides.is_file():
            continue
        pairs = [o.lstrip("+~").split("=", 1) for o in yaml.safe_load(overrides.read_text()) or []]
        runs.append({"dir": str(metrics.parent), "overrides": {k: v for k, v in pairs},
                     "metrics": json.loads(metrics.read_text())})
    if not runs:
        raise ConfigError(f"{root} holds no finished Hydra jobs (folders with metrics.json and "
                          ".hydra/overrides.yaml); pass the folder a `-m` run printed")
    return runs


def aggregate(runs: list[dict], metrics: tuple[str, ...] = ("success_rate", "mean_return")) -> list[dict]:
    """One row per setting (the overrides other than seeds): mean and 95% interval of each metric."""
    keys = {k for r in runs for k in r["overrides"]}
    swept = sorted(k for k in keys if len({r["overrides"].get(k) for r in runs}) > 1)
    seed_keys = [k for k in swept if k.split(".")[-1] == "seed"]
    settings = [k for k in swept if k not in seed_keys]
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault(tuple(r["overrides"].get(k) for k in settings), []).append(r)
    rows = []
    for key in sorted(groups, key=lambda k: [_sortable(v) for v in k]):
        group = groups[key]
        row = {"setting": dict(zip(settings, key, strict=True)), "seeds": len(group),
               "seed_values": [{k: r["overrides"].get(k) for k in seed_keys} for r in group]}
        for m in metrics:
            values = [float(r["metrics"][m]) for r in group if m in r["metrics"]]
            if values:
                mean, lo, hi = mean_interval(values)
                row[m] = {"mean": mean, "ci95": [lo, hi], "values": values}
        rows.append(row)
    return rows


def _sortable(value: str | None) -> tuple:
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def _label(setting: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in setting.items()) or "all runs"


def to_markdown(rows: list[dict], metrics: tuple[str, ...]) -> str:
    """The table: one row per setting, mean [95% interval] of each metric over its seeds."""
    lines = ["| setting | seeds | " + " | ".join(f"{m} (mean [95% CI])" for m in metrics) + " |",
             "|---|---|" + "---|" * len(metrics)]
    for row in rows:
        cells = [f"{row[m]['mean']:.3f} [{row[m]['ci95'][0]:.3f}, {row[m]['ci95'][1]:.3f}]"
                 if m in row else "-" for m in metrics]
        lines.append(f"| {_label(row['setting'])} | {row['seeds']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], metric: str, path: Path) -> None:
    """Mean and 95% interval of ``metric`` per setting, with each seed's value as a dot."""
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(rows)), 3.8))
    for i, row in enumerate(rows):
        if metric not in row:
            continue
        stats = row[metric]
        lo, hi = stats["ci95"]
        ax.errorbar([i], [stats["mean"]], yerr=[[stats["mean"] - lo], [hi - stats["mean"]]], fmt="o",
                    capsize=6, color="C0")
        ax.scatter([i] * len(stats["values"]), stats["values"], s=12, color="C1", alpha=0.7, zorder=3)
    ax.set_xticks(range(len(rows)), [_label(r["setting"]).replace(", ", "\n") for r in rows], fontsize=8)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric}: mean and 95% t interval over seeds (dots: each seed)", fontsize=9)
    ax.set_xlim(-0.5, len(rows) - 0.5)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> list[dict]:
    """Read the multirun folder, write ``<out>/sweep.{json,md,png}``; the rows."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("multirun", type=Path, help="the folder a `-m` run wrote (hydra.sweep.dir)")
    parser.add_argument("--metric", action="append", help="metrics.json keys (default success_rate, "
                        "mean_return); the first is plotted")
    parser.add_argument("--out", type=Path, help="where sweep.{json,md,png} go (default: the multirun "
                        "folder)")
    args = parser.parse_args(argv)
    metrics = tuple(args.metric or ("success_rate", "mean_return"))
    rows = aggregate(load_runs(args.multirun), metrics)
    out = args.out or args.multirun
    out.mkdir(parents=True, exist_ok=True)
    summary = {"multirun": str(args.multirun), "metrics": list(metrics), "rows": rows}
    atomic_write_text(out / "sweep.json", json.dumps(summary, indent=2) + "\n")
    table = to_markdown(rows, metrics)
    atomic_write_text(out / "sweep.md", table)
    plot(rows, metrics[0], out / "sweep.png")
    print(table + f"\nwritten: {out / 'sweep.json'}, {out / 'sweep.md'}, {out / 'sweep.png'}")
    return rows


if __name__ == "__main__":
    main()

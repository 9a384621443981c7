"""The env speed results as a picture: ``python -m benchmarks.plot [--results DIR]``.

One horizontal bar group per task x backend, each bar a ratio to Reacher-v5 with its min–max over
repeats: the judged ratio (time beyond physics, Reacher-v5 running its own physics), the same
ratio against Reacher-v5 stepped after the row's physics (not judged), and, when
``step_cost.json`` is beside ``env_speed.json``, the step's code alone with the physics off. A
dashed line marks the 0.75 goal. Writes ``env_speed.png`` next to the JSON files.
"""

import argparse
import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from benchmarks.env_speed import DEFAULT_OUT  # noqa: E402
from benchmarks.figures import OVERHEAD_GOAL, REFERENCE  # noqa: E402
from dataset.atomic import atomic_write_bytes  # noqa: E402

SERIES = (  # (label, colour)
    ("judged: / Reacher-v5 with its own physics", "#c0504d"),
    ("/ Reacher-v5 after this scene's physics (not judged)", "#4f81bd"),
    ("code alone, physics off (step_cost)", "#9bbb59"),
)


def ratios(env_speed: dict[str, Any], step_cost: dict[str, Any] | None) -> dict[str, list]:
    """Per row ``<task>/<backend>``: a stats dict (or None) per series, in ``SERIES`` order."""
    code = {}
    if step_cost is not None:
        code = {f"{r['task']}/{r['backend']}": r.get("ratio_to_reacher") for r in step_cost["rows"]}
    out = {}
    for key, f in env_speed["derived"]["state"].items():
        if key != REFERENCE:
            out[key] = [f.get("overhead_ratio"), f.get("overhead_ratio_matched"), code.get(key)]
    return out


def draw(rows: dict[str, list], title: str) -> bytes:
    """A PNG of the grouped bars."""
    names = list(rows)
    height = 0.8 / len(SERIES)
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(names) + 1.6))
    for s, (label, colour) in enumerate(SERIES):
        ys, values, low, high = [], [], [], []
        for i, name in enumerate(names):
            st = rows[name][s]
            if st is None or st["median"] is None:
                continue
            ys.append(i + (s - 1) * height)
            values.append(st["median"])
            low.append(st["median"] - st["min"])
            high.append(st["max"] - st["median"])
        if values:
            ax.barh(ys, values, height, xerr=[low, high], color=colour, label=label,
                    error_kw={"elinewidth": 0.8, "capsize": 2})
    ax.axvline(OVERHEAD_GOAL, color="black", linestyle="--", linewidth=1)
    ax.text(OVERHEAD_GOAL, -0.9, f" goal ≤ {OVERHEAD_GOAL}", fontsize=8, va="bottom")
    ax.set_yticks(range(len(names)), [n.replace("/", " / ") for n in names], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ratio to Reacher-v5's time per step beyond physics (median over repeats, min–max)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Read ``env_speed.json`` (and ``step_cost.json`` if present), write ``env_speed.png``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.plot", description=__doc__.split("\n")[0])
    p.add_argument("--results", type=Path, default=DEFAULT_OUT, help="folder with env_speed.json")
    args = p.parse_args(argv)
    source = args.results / "env_speed.json"
    if not source.exists():
        raise SystemExit(f"{source} not found: run `python -m benchmarks` first (or pass "
                         "--results with the folder it wrote to)")
    env_speed = json.loads(source.read_text())
    cost_path = args.results / "step_cost.json"
    step_cost = json.loads(cost_path.read_text()) if cost_path.exists() else None
    title = f"Env step cost beyond physics vs Reacher-v5, {env_speed['timestamp'][:10]}"
    out = args.results / "env_speed.png"
    atomic_write_bytes(out, draw(ratios(env_speed, step_cost), title))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

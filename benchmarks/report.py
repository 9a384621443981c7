"""From timings to figures and verdicts, the Markdown tables, the plot, and the files of a run.

Every figure is computed per repeat from that repeat's block percentiles (the cases of a row took
turns), then reported as median (min–max) over repeats; verdicts use the median.
"""

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.memory import memory_table
from benchmarks.rows import REACHER, short
from benchmarks.timing import stats
from dataset.atomic import atomic_write_bytes, atomic_write_text

OVERHEAD_GOAL = 0.75  # a task's µs/step beyond physics / Reacher-v5's beside the same physics, at most
CAMERA_GOAL = 0.8  # camera env speed / (raw physics + render) speed, at least
REFERENCE = f"{REACHER}/mujoco"
VERDICT = {True: "**PASS**", False: "**FAIL**", None: "n/a"}


def summarize(timings: list[dict[str, Any]], envs_per_step: int) -> dict[str, Any]:
    """One case over repeats: steps (transitions) per second from totals, and p10 µs per step."""
    out: dict[str, Any] = {name: [t[name] for t in timings] for name in timings[0]}
    out["steps_per_s"] = stats([t["steps"] * envs_per_step / t["elapsed_s"] for t in timings])
    out["step_us_p10"] = stats(out["step_us_p10"])
    return out


def _minus(a: dict, b: dict) -> list[float]:
    return [x - y for x, y in zip(a["step_us_p10"]["repeats"], b["step_us_p10"]["repeats"], strict=True)]


def _over(a: list, b: list) -> list[float | None]:
    return [x / y if x is not None and y is not None and y > 0 else None for x, y in zip(a, b, strict=True)]


def derive(m: dict[str, dict], rows: list[dict[str, Any]]) -> dict[str, dict]:
    """Per section, per row key: the figures of the tables."""
    out: dict[str, dict] = {"state": {}, "camera": {}, "vector": {}}
    for row in (r for r in rows if "error" not in r):
        p, key = f"{row['section']}/{row['key']}", row["key"]
        if row["section"] == "state":
            over = _minus(m[f"{p}/env"], m[f"{p}/raw"])
            f = out["state"][key] = {"overhead_us": stats(over)}
            if key != REFERENCE:
                ref = _minus(m[f"{p}/ref_env"], m[f"{p}/ref_raw"])
                f.update(reference_overhead_us=stats(ref), ratio=stats(_over(over, ref)))
                f["pass"] = None if f["ratio"]["median"] is None else f["ratio"]["median"] <= OVERHEAD_GOAL
        elif row["section"] == "camera":
            env, raw = m[f"{p}/env"], m[f"{p}/raw"]
            f = out["camera"][key] = {
                "ratio": stats(_over(raw["step_us_p10"]["repeats"], env["step_us_p10"]["repeats"])),
                "ratio_totals": stats(_over(env["steps_per_s"]["repeats"], raw["steps_per_s"]["repeats"]))}
            f["pass"] = None if f["ratio"]["median"] is None else f["ratio"]["median"] >= CAMERA_GOAL
        else:
            one, two = (m[f"{p}/{w}"]["steps_per_s"]["repeats"] for w in (1, 2))
            out["vector"][key] = {"speedup": stats(_over(two, one))}
    return out


def fmt(s: dict[str, Any], spec: str, spread: bool = True) -> str:
    """``median (min–max)``, or the median alone."""
    if s["median"] is None:
        return "n/a"
    return f"{s['median']:{spec}}" + (f" ({s['min']:{spec}}–{s['max']:{spec}})" if spread else "")


def _table(result: dict[str, Any], section: str, header: list[str],
           cells: Callable[[str, dict, dict], list[list[Any]]]) -> str:
    """A Markdown table of a section's rows; ``cells(prefix, measurements, figures)`` gives lines."""
    named = 3 if section == "camera" else 2  # task, backend (and sensor) columns
    lines = [header, ["---"] * named + ["---:"] * (len(header) - named)]
    for row in (r for r in result["rows"] if r["section"] == section):
        name = [short(row["env_id"]), row["backend"], *([row["sensor"]] if "sensor" in row else [])]
        if "error" in row:
            lines.append([*name, f"error: {row['error'][:120]}", *[""] * (len(header) - len(name) - 1)])
        else:
            figures = result["figures"][section][row["key"]]
            lines += [[*name, *c] for c in cells(f"{section}/{row['key']}", result["measurements"], figures)]
    return "\n".join("| " + " | ".join(map(str, line)) + " |" for line in lines)


def state_table(result: dict[str, Any]) -> str:
    """One line per roboloop id x backend, judged against Reacher-v5 beside the same physics.

    Reacher-v5's own line (beside its own physics) comes first, for reference.
    """
    def cells(p: str, m: dict, f: dict) -> list[list[Any]]:
        speeds = [fmt(m[f"{p}/{c}"]["steps_per_s"], ",.0f", False) for c in ("env", "raw")]
        if "ratio" not in f:
            return [[*speeds, fmt(f["overhead_us"], ".1f"), "", "reference", ""]]
        return [[*speeds, fmt(f["overhead_us"], ".1f"), fmt(f["reference_overhead_us"], ".1f"),
                 fmt(f["ratio"], ".2f"), VERDICT[f["pass"]]]]
    return _table(result, "state", [
        "task", "backend", "env steps/s", "raw physics steps/s", "µs/step beyond physics (p10)",
        f"{REACHER}'s, beside this physics", "ratio", f"goal ≤ {OVERHEAD_GOAL}"], cells)


def camera_table(result: dict[str, Any]) -> str:
    """Per backend and sensor: the camera env beside raw physics + the scene's renderer."""
    return _table(result, "camera", [
        "task", "backend", "sensor", "env steps/s", "raw physics + render steps/s", "env / raw speed (p10)",
        "… from totals", f"goal ≥ {CAMERA_GOAL}"],
        lambda p, m, f: [[fmt(m[f"{p}/env"]["steps_per_s"], ",.0f", False),
                          fmt(m[f"{p}/raw"]["steps_per_s"], ",.0f", False), fmt(f["ratio"], ".2f"),
                          fmt(f["ratio_totals"], ".2f"), VERDICT[f["pass"]]]])


def vector_table(result: dict[str, Any]) -> str:
    """Transitions/s (all sub-envs) with 1 and 2 workers, and the speed-up."""
    return _table(result, "vector", ["task", "backend", "AsyncVectorEnv workers", "transitions/s",
                                     "speed-up vs 1 worker"],
                  lambda p, m, f: [[w, fmt(m[f"{p}/{w}"]["steps_per_s"], ",.0f"),
                                    fmt(f["speedup"], ".2f") if w == 2 else ""] for w in (1, 2)])


def goal_lines(result: dict[str, Any]) -> list[str]:
    """One PASS/FAIL line per measured goal."""
    out = []
    for section, goal in (("state", f"µs/step beyond physics ≤ {OVERHEAD_GOAL}x {REACHER}'s beside the "
                                    "same physics"), ("camera", f"camera env ≥ {CAMERA_GOAL}x raw speed")):
        keys = [r["key"] for r in result["rows"] if r["section"] == section and r["key"] != REFERENCE]
        bad = [k for k in keys if result["figures"][section].get(k, {}).get("pass") is not True]
        if keys:
            out.append(f"{'FAIL' if bad else 'PASS'}: {goal}: {len(keys) - len(bad)}/{len(keys)} rows"
                       + (f" (not passing: {', '.join(bad)})" if bad else ""))
    return out


def to_markdown(result: dict[str, Any]) -> str:
    """The header, the tables of the measured sections, and the verdicts."""
    c, mach, sections = result["config"], result["machine"], {r["section"] for r in result["rows"]}
    parts = [f"# Env speed, {result['timestamp']}",
             f"{mach['cpu_model']} ({mach['cpu_count']} CPUs; load average {mach['loadavg_before']} "
             f"before, {mach['loadavg_after']} after); Python {mach['python']}, MuJoCo {mach['mujoco']}, "
             f"PyBullet {mach['pybullet']}, Gymnasium {mach['gymnasium']}. {c['repeats']} repeats of "
             f"~{c['seconds']:g} s per case, cases of a row taking turns in ~{1e3 * c['block_s']:g} ms "
             f"blocks; p10: 10th percentile of a repeat's block times per step (resets excluded); "
             f"cells: median (min–max) over repeats; steps/s from totals. Wall time {result['wall_s']:.0f} s."
             + (" `--quick`: the figures mean nothing." if c["quick"] else "")]
    if "state" in sections:
        parts += ["## State observations", state_table(result)]
    if "camera" in sections:
        parts += ["## Camera observations (one 96x96 camera)", camera_table(result)]
    if result.get("camera_memory"):
        parts += ["## Camera env memory", memory_table(result["camera_memory"])]
    if "vector" in sections:
        parts += ["## Vector env (state observations)", vector_table(result)]
    return "\n\n".join([*parts, "\n".join(goal_lines(result))]) + "\n"


def plot(result: dict[str, Any]) -> bytes:
    """A PNG of the judged ratio per row, its min–max over repeats, and the goal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = {k.replace("/", " / "): f["ratio"] for k, f in result["figures"]["state"].items()
            if k != REFERENCE and f["ratio"]["median"] is not None}
    med = [s["median"] for s in rows.values()]
    err = [[s["median"] - s["min"] for s in rows.values()], [s["max"] - s["median"] for s in rows.values()]]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.5))
    ax.barh(range(len(rows)), med, xerr=err, color="#4f81bd", error_kw={"capsize": 3})
    ax.axvline(OVERHEAD_GOAL, color="black", linestyle="--", linewidth=1, label=f"goal ≤ {OVERHEAD_GOAL}")
    ax.set_yticks(range(len(rows)), list(rows), fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"µs/step beyond physics / {REACHER}'s beside the same physics (median, min–max)")
    ax.set_title(f"Env step overhead, {result['timestamp'][:10]}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def write(result: dict[str, Any], markdown: str, out: Path) -> list[Path]:
    """``env_speed.json``, ``env_speed.md`` and (with judged rows) ``env_speed.png``, atomically."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "env_speed.json", json.dumps(result, indent=1, allow_nan=False) + "\n")
    atomic_write_text(out / "env_speed.md", markdown)
    paths = [out / "env_speed.json", out / "env_speed.md"]
    if any(f.get("ratio", {}).get("median") is not None for f in result["figures"]["state"].values()):
        atomic_write_bytes(out / "env_speed.png", plot(result))
        paths.append(out / "env_speed.png")
    return paths

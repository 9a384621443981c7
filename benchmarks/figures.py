"""From timings to figures: steps/s per measurement, per-repeat overheads and ratios, goal verdicts.

Every derived figure is computed per repeat from that repeat's measurements (which took turns
block by block), then summarized as median (min, max) over repeats. Two kinds of figure:

- **uncontended** (``*_q``): from each case's ``QUANTILE``-th percentile block time per step
  (resets excluded); what the code costs when the shared CPU is not slowed by a neighbour. The
  goals are judged on these, on the median over repeats.
- **totals**: from the whole repeat's elapsed time, neighbours' slow-downs included.
"""

from typing import Any

from benchmarks.cases import REACHER, short
from benchmarks.timing import Case, Timing, stats

OVERHEAD_GOAL = 0.75  # a task's per-step time beyond physics / Reacher-v5's, at most
CAMERA_GOAL = 0.8  # camera env steps/s / raw physics + renderer steps/s, at least
REFERENCE = f"{short(REACHER)}/mujoco"


def summarize(case: Case, timings: list[Timing]) -> dict[str, Any]:
    """A measurement's description, every repeat's raw timings, and its steps/s summary."""
    out: dict[str, Any] = {"section": case.section, "label": case.label, "env_id": case.env_id,
                           "backend": case.backend, "frame_skip": case.frame_skip, "steps": case.steps,
                           "envs_per_step": case.envs_per_step}
    for name in timings[0]:
        out[name] = [t[name] for t in timings]
    out["steps_per_s"] = stats([case.steps / t["elapsed_s"] for t in timings])
    out["step_us_q"] = stats([t["step_us_q"] for t in timings])
    if case.section == "vector":
        out["transitions_per_s"] = stats([case.steps * case.envs_per_step / t["elapsed_s"]
                                          for t in timings])
    return out


def _ratios(num: list[float | None], den: list[float | None]) -> list[float | None]:
    return [a / b if a is not None and b is not None and b > 0 else None
            for a, b in zip(num, den, strict=True)]


def _overhead_us(env: dict, raw: dict, exclude_resets: bool = False) -> list[float]:
    """Per repeat, from totals: env µs per step minus raw µs per step (raw state restores excluded)."""
    env_s = env["elapsed_s"]
    if exclude_resets:
        env_s = [e - r for e, r in zip(env_s, env["reset_s"], strict=True)]
    raw_s = [e - r for e, r in zip(raw["elapsed_s"], raw["reset_s"], strict=True)]
    return [1e6 * e / env["steps"] - 1e6 * r / raw["steps"] for e, r in zip(env_s, raw_s, strict=True)]


def _overhead_us_q(env: dict, raw: dict) -> list[float | None]:
    """Per repeat: uncontended env µs per step minus uncontended raw µs per step."""
    return [e - r if e is not None and r is not None else None
            for e, r in zip(env["step_us_q"]["repeats"], raw["step_us_q"]["repeats"], strict=True)]


def _verdict(value: float | None, op: str, goal: float) -> dict[str, Any]:
    """``pass`` is None when the value is undefined (e.g. the reference failed to build)."""
    ok = None if value is None else (value <= goal if op == "<=" else value >= goal)
    return {"value": value, "goal": f"{op} {goal}", "pass": ok}


def state_figures(env: dict, raw: dict, reference: dict | None) -> dict[str, Any]:
    """Env time / raw time, µs beyond physics (with and without resets), and the ratio to Reacher."""
    over, over_x = _overhead_us(env, raw), _overhead_us(env, raw, exclude_resets=True)
    over_q = _overhead_us_q(env, raw)
    d: dict[str, Any] = {
        "env_over_raw_q": stats(_ratios(env["step_us_q"]["repeats"], raw["step_us_q"]["repeats"])),
        "overhead_us_q": stats(over_q),
        "overhead_us": stats(over),
        "overhead_us_excl_resets": stats(over_x),
        "reset_share": sum(env["reset_s"]) / sum(env["elapsed_s"]),
    }
    if reference is not None:
        d["overhead_ratio"] = stats(_ratios(over_q, reference["overhead_us_q"]["repeats"]))
        d["overhead_ratio_totals"] = stats(
            _ratios(over_x, reference["overhead_us_excl_resets"]["repeats"]))
        d["goal"] = _verdict(d["overhead_ratio"]["median"], "<=", OVERHEAD_GOAL)
    return d


def derive(m: dict[str, dict], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Figures for every row that was measured, keyed ``<task>/<backend>`` per section, and goals.

    A state row's ratio is against the Reacher-v5 pair measured in its own group (``ref_env``,
    ``ref_raw``); the Reacher-v5 row itself is its own group's measurement. Beside it, not judged:
    ``overhead_ratio_matched``, against Reacher-v5 stepped after this row's physics
    (``ref_env_matched``, ``ref_raw_matched``; see ``benchmarks.cases.matched_reference``).
    """
    d: dict[str, Any] = {"state": {}, "camera": {}, "vector": {}}
    ok = [r for r in rows if "error" not in r]
    ref_key = f"state/{REFERENCE}"
    if f"{ref_key}/env" in m:
        d["state"][REFERENCE] = state_figures(m[f"{ref_key}/env"], m[f"{ref_key}/raw"], None)
    for row in ok:
        p = f"{row['section']}/{row['key']}"
        if row["section"] == "state" and row["key"] != REFERENCE:
            reference = state_figures(m[f"{p}/ref_env"], m[f"{p}/ref_raw"], None)
            f = d["state"][row["key"]] = state_figures(m[f"{p}/env"], m[f"{p}/raw"], reference)
            f["reference_overhead_us_q"] = reference["overhead_us_q"]
            if f"{p}/ref_env_matched" in m:
                matched = _overhead_us_q(m[f"{p}/ref_env_matched"], m[f"{p}/ref_raw_matched"])
                f["matched_reference_overhead_us_q"] = stats(matched)
                f["overhead_ratio_matched"] = stats(
                    _ratios(f["overhead_us_q"]["repeats"], matched))
        elif row["section"] == "camera":
            ratio = stats(_ratios(m[f"{p}/raw"]["step_us_q"]["repeats"],
                                  m[f"{p}/env"]["step_us_q"]["repeats"]))
            totals = stats(_ratios(m[f"{p}/env"]["steps_per_s"]["repeats"],
                                   m[f"{p}/raw"]["steps_per_s"]["repeats"]))
            d["camera"][row["key"]] = {"ratio": ratio, "ratio_totals": totals,
                                       "goal": _verdict(ratio["median"], ">=", CAMERA_GOAL)}
        elif row["section"] == "vector":
            one, two = (m[f"{p}/{w}"]["transitions_per_s"]["repeats"] for w in (1, 2))
            d["vector"][row["key"]] = {"speedup": stats(_ratios(two, one))}
    d["goals"] = goals(d, rows)
    return d


def goals(d: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per goal of a measured section: which rows pass, fail, could not be judged, or failed to build."""
    out = {}
    measured = {row["section"] for row in rows}
    for name, section, goal in (("overhead_ratio", "state", f"<= {OVERHEAD_GOAL}"),
                                ("camera_ratio", "camera", f">= {CAMERA_GOAL}")):
        if section not in measured:
            continue
        g: dict[str, Any] = {"goal": goal, "pass": [], "fail": [], "undefined": [], "error": []}
        for row in rows:
            if row["section"] != section or row["key"] == REFERENCE:
                continue
            if "error" in row:
                g["error"].append(row["key"])
                continue
            verdict = d[section][row["key"]].get("goal", {"pass": None})["pass"]
            g[{True: "pass", False: "fail", None: "undefined"}[verdict]].append(row["key"])
        out[name] = g
    return out

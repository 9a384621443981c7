"""The result as Markdown tables (state, camera, vector env, goals), and writing the result files."""

import json
import statistics
from pathlib import Path
from typing import Any

from benchmarks.cases import IMAGE_SIZE, REACHER, short
from benchmarks.figures import CAMERA_GOAL, OVERHEAD_GOAL, REFERENCE
from benchmarks.timing import BLOCK_S, QUANTILE
from dataset.atomic import atomic_write_text

VERDICT = {True: "**PASS**", False: "**FAIL**", None: "n/a"}


def fmt_stats(s: dict[str, Any] | None, spec: str, unit: str = "") -> str:
    """``median (min–max)`` of a stats dict."""
    if s is None or s["median"] is None:
        return "n/a"
    return f"{s['median']:{spec}}{unit} ({s['min']:{spec}}–{s['max']:{spec}})"


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _error(row: dict[str, Any]) -> str:
    text = " ".join(row["error"].replace("`", "'").split())
    return f"error: `{text[:160]}{'…' if len(text) > 160 else ''}`".replace("|", "\\|")


def _rows(result: dict[str, Any], section: str) -> list[dict[str, Any]]:
    return [r for r in result["rows"] if r["section"] == section]


def _name(row: dict[str, Any]) -> str:
    return short(row["env_id"])


def _resets(env: dict, reset_share: float) -> str:
    return f"{statistics.median(env['resets']):.0f} ({100 * reset_share:.1f}%)"


def state_table(result: dict[str, Any]) -> list[str]:
    """One row per task x backend with state observations; Reacher-v5 first, as the reference."""
    m, d = result["measurements"], result["derived"]["state"]
    q = c_q(result)
    lines = [_row("task", "backend", "frame skip", "env steps/s", "raw physics steps/s",
                  f"env µs/step (p{q})", f"raw µs/step (p{q})", f"µs/step beyond physics (p{q})",
                  "… from totals, resets excluded", "resets (% of env time)",
                  f"overhead / {REACHER} (p{q})", f"goal ≤ {OVERHEAD_GOAL}",
                  f"{REACHER} µs beyond physics after this scene's physics (p{q})",
                  "overhead / that (not judged)"),
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for row in _rows(result, "state"):
        if "error" in row:
            lines.append(_row(_name(row), row["backend"], _error(row), *[""] * 11))
            continue
        p, f = f"state/{row['key']}", d[row["key"]]
        env, raw = m[f"{p}/env"], m[f"{p}/raw"]
        is_ref = row["key"] == REFERENCE
        lines.append(_row(
            _name(row), row["backend"], env["frame_skip"], fmt_stats(env["steps_per_s"], ",.0f"),
            fmt_stats(raw["steps_per_s"], ",.0f"), fmt_stats(env["step_us_q"], ".1f"),
            fmt_stats(raw["step_us_q"], ".1f"), fmt_stats(f["overhead_us_q"], ".1f"),
            fmt_stats(f["overhead_us_excl_resets"], ".1f"), _resets(env, f["reset_share"]),
            "reference" if is_ref else fmt_stats(f.get("overhead_ratio"), ".2f"),
            "" if is_ref else VERDICT[f.get("goal", {"pass": None})["pass"]],
            "" if is_ref else fmt_stats(f.get("matched_reference_overhead_us_q"), ".1f"),
            "" if is_ref else fmt_stats(f.get("overhead_ratio_matched"), ".2f")))
    return lines


def camera_table(result: dict[str, Any]) -> list[str]:
    """Per backend: the RGB env beside the raw physics + renderer loop of the same scene."""
    m, d = result["measurements"], result["derived"]["camera"]
    q = c_q(result)
    lines = [_row("task", "backend", f"rgb {IMAGE_SIZE}x{IMAGE_SIZE} env steps/s",
                  "raw physics + render steps/s", f"env / raw speed (p{q})", "… from totals",
                  f"goal ≥ {CAMERA_GOAL}"),
             "|---|---|---:|---:|---:|---:|---|"]
    notes = []
    for row in _rows(result, "camera"):
        if "error" in row:
            lines.append(_row(_name(row), row["backend"], _error(row), "", "", "", ""))
            continue
        p, f = f"camera/{row['key']}", d[row["key"]]
        lines.append(_row(_name(row), row["backend"], fmt_stats(m[f"{p}/env"]["steps_per_s"], ",.0f"),
                          fmt_stats(m[f"{p}/raw"]["steps_per_s"], ",.0f"), fmt_stats(f["ratio"], ".2f"),
                          fmt_stats(f["ratio_totals"], ".2f"), VERDICT[f["goal"]["pass"]]))
        notes.append(f"{row['backend']}: `{m[f'{p}/raw']['label']}`")
    return lines + ([f"\nRaw loops: {'; '.join(notes)}."] if notes else [])


def vector_table(result: dict[str, Any]) -> list[str]:
    """Transitions/s (summed over sub-envs) with 1 and 2 worker processes, and the speed-up."""
    m, d = result["measurements"], result["derived"]
    lines = [_row("env", "workers", "transitions/s (all sub-envs)", "speed-up vs 1 worker"),
             "|---|---|---:|---:|"]
    for row in _rows(result, "vector"):
        name = f"{_name(row)} {row['backend']} state"
        if "error" in row:
            lines.append(_row(name, "", _error(row), ""))
            continue
        single = m.get(f"state/{row['key']}/env")
        if single is not None:
            lines.append(_row(name, "none (one env in this process)",
                              fmt_stats(single["steps_per_s"], ",.0f"), ""))
        for w in (1, 2):
            speedup = fmt_stats(d["vector"][row["key"]]["speedup"], ".2f", "x") if w == 2 else "1 (base)"
            lines.append(_row(name, f"{w} (`AsyncVectorEnv`)",
                              fmt_stats(m[f"vector/{row['key']}/{w}"]["transitions_per_s"], ",.0f"), speedup))
    return lines


MATCHED_NOTE = (
    f"The last two columns are not judged. Python that runs after a physics step finds the caches "
    f"full of what the physics touched, so the same code costs more after a contact-rich scene's "
    f"step than after {REACHER}'s two contact-free substeps. There, {REACHER}'s env and raw loops "
    f"each run step by step after a step of the row's raw physics (their own copy of the scene), "
    f"so {REACHER}'s code pays the same cache pressure as the row's code.")


def goals_table(result: dict[str, Any]) -> list[str]:
    """How many rows meet each goal; the failing, undefined and error rows by name."""
    g = result["derived"]["goals"]
    what = {"overhead_ratio": f"µs/step beyond physics ≤ {OVERHEAD_GOAL}x {REACHER}'s",
            "camera_ratio": f"rgb env ≥ {CAMERA_GOAL}x raw physics + render steps/s"}

    def names(keys: list[str]) -> str:
        return f"{len(keys)}" + (f": {', '.join(keys)}" if keys else "")

    lines = [_row("goal", "PASS", "FAIL", "not judged (no reference)", "error"), "|---|---:|---|---|---|"]
    for name, v in g.items():
        lines.append(_row(what[name], len(v["pass"]), names(v["fail"]), names(v["undefined"]),
                          names(v["error"])))
    return lines


def _header(result: dict[str, Any]) -> str:
    c, mach = result["config"], result["machine"]
    counts = ", ".join(f"{s} {c['steps'][s]:,}" if c["steps"].get(s) else f"{s} sized to ~{c['seconds']:g} s"
                       for s in c["sections"])
    return (f"Env speed, {result['timestamp']}: {mach['cpu_model']} ({mach['cpu_count']} CPUs, "
            f"load {mach['loadavg_before']} before), Python {mach['python']}, MuJoCo {mach['mujoco']}, "
            f"PyBullet {mach['pybullet']}, Gymnasium {mach['gymnasium']}, MUJOCO_GL={mach['MUJOCO_GL']}. "
            f"Steps per measurement and repeat: {counts} (exact counts in the JSON); "
            f"{c['repeats']} repeat{'s' * (c['repeats'] != 1)}, every measurement taking turns in "
            f"blocks of ~{1e3 * c.get('block_s', BLOCK_S):g} ms; median (min–max) over repeats. "
            f"p{c.get('quantile', QUANTILE)}: that percentile of the blocks' time per step (resets "
            "excluded), the uncontended speed on a shared CPU; steps/s and totals include every "
            "slow-down. Env totals include resets at episode ends.")


def to_markdown(result: dict[str, Any]) -> str:
    """The result as Markdown: a header line, then the state, camera, vector-env and goal tables."""
    sections = result["config"]["sections"]
    parts = [_header(result)]
    if "state" in sections:
        parts += ["**State observations, per task x backend.**", "\n".join(state_table(result)),
                  MATCHED_NOTE]
    if "camera" in sections:
        parts += [f"**Camera observations ({IMAGE_SIZE}x{IMAGE_SIZE} RGB).**",
                  "\n".join(camera_table(result))]
    if "vector" in sections:
        parts += ["**Vector env.**", "\n".join(vector_table(result))]
    parts += [f"**Goals** (judged on the median over repeats of the p{c_q(result)} figures).",
              "\n".join(goals_table(result))]
    return "\n\n".join(parts) + "\n"


def c_q(result: dict[str, Any]) -> int:
    """The block-time percentile the run used."""
    return result["config"].get("quantile", QUANTILE)


def goal_lines(result: dict[str, Any]) -> list[str]:
    """One plain-text line per goal, for the terminal."""
    out = []
    for name, v in result["derived"]["goals"].items():
        judged = len(v["pass"]) + len(v["fail"])
        status = "PASS" if v["pass"] and not v["fail"] else "FAIL" if v["fail"] else "n/a"
        out.append(f"{name} {v['goal']}: {status} ({len(v['pass'])}/{judged} rows pass"
                   + "".join(f"; {k}: {', '.join(v[k])}" for k in ("fail", "undefined", "error") if v[k])
                   + ")")
    return out


def write_results(result: dict[str, Any], markdown: str, out: Path,
                  stem: str = "env_speed") -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out``, each atomically."""
    json_path, md_path = out / f"{stem}.json", out / f"{stem}.md"
    atomic_write_text(json_path, json.dumps(result, indent=2, allow_nan=False) + "\n")
    atomic_write_text(md_path, markdown)
    return json_path, md_path

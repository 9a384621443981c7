"""`python -m benchmarks --quick` end to end: files written, figures well formed (speed is not tested)."""

import json
import math
from pathlib import Path

import pytest

from benchmarks import main, to_markdown
from benchmarks.env_speed import stats

MEASUREMENTS = ["pushcube_env", "pushcube_raw", "reacher_env", "reacher_raw", "camera_env", "camera_raw"]
RATIOS = ["overhead_ratio", "overhead_ratio_excl_resets", "pushcube_env_over_raw",
          "reacher_env_over_raw", "camera_ratio"]


def positive(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp("bench")
    rc = main(["--quick", "--steps", "60", "--camera-steps", "2", "--repeats", "2", "--out", str(out)])
    return rc, out


def test_quick_run_writes_json_with_positive_finite_timings(quick_run: tuple[int, Path]) -> None:
    rc, out = quick_run
    assert rc == 0
    result = json.loads((out / "env_speed.json").read_text())
    expected = {"steps": 60, "camera_steps": 2, "repeats": 2, "quick": True}
    assert {k: result["config"][k] for k in expected} == expected
    assert result["config"]["order"] == MEASUREMENTS
    for key in ("timestamp", "platform", "cpu_model", "python", "mujoco", "gymnasium", "MUJOCO_GL"):
        assert result.get(key) or result["machine"].get(key), key
    for key in MEASUREMENTS:
        m = result["measurements"][key]
        assert m["frame_skip"] >= 1 and m["steps"] in (60, 2)
        assert len(m["elapsed_s"]) == 2 and all(positive(t) for t in m["elapsed_s"])
        sps = m["steps_per_s"]
        assert all(positive(sps[k]) for k in ("median", "min", "max"))
        assert sps["min"] <= sps["median"] <= sps["max"]
    assert result["measurements"]["pushcube_env"]["frame_skip"] == 10
    assert result["measurements"]["reacher_env"]["frame_skip"] == 2


def test_quick_run_derived_figures(quick_run: tuple[int, Path]) -> None:
    derived = json.loads((quick_run[1] / "env_speed.json").read_text())["derived"]
    for key in ("pushcube_overhead_us", "reacher_overhead_us"):
        assert all(math.isfinite(derived[key][k]) for k in ("median", "min", "max")), key
    for key in RATIOS:
        assert positive(derived[key]["median"]), key
        assert len(derived[key]["repeats"]) == 2
    for goal in derived["goals"].values():
        assert isinstance(goal["pass"], bool) and goal["goal"].split()[0] in ("<=", ">=")


def test_quick_run_markdown_table(quick_run: tuple[int, Path]) -> None:
    rc, out = quick_run
    md = (out / "env_speed.md").read_text()
    result = json.loads((out / "env_speed.json").read_text())
    assert md == to_markdown(result)
    assert "| per env | PushCube-v0 | Reacher-v5 |" in md
    for row in ("| env steps/s", "| raw physics steps/s", "| µs per env step beyond physics",
                "| env step time / raw physics time", "| overhead ratio PushCube / Reacher",
                "| camera ratio env / raw render loop"):
        assert row in md, row
    assert md.count("PASS") + md.count("FAIL") == 2
    assert not any(p.name.startswith(".") for p in out.iterdir())  # no temp files left behind


def test_stats_skips_undefined_values() -> None:
    assert stats([3.0, None, 1.0, float("inf"), 2.0])["median"] == 2.0
    assert stats([None])["median"] is None

"""The env speed benchmark: a quick run end to end, and the properties its figures rest on.

Speed itself is not tested (it depends on the machine); what is: every row and table is produced,
the raw loops replay the env's exact trajectory, and the matched reference pairs one host step
with each Reacher-v5 step.
"""

import json
import math
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import envs
from benchmarks import main, run, to_markdown
from benchmarks.env_speed import QUICK, resolve_ids
from benchmarks.rows import Plan, env_and_raw, state_row
from benchmarks.steps import Beside, RawStep
from benchmarks.timing import Case, measure_group

TINY = Plan(ids=(), backends=(), sections=(), seconds=0.0, repeats=1, warmup_s=0.0, tape_min=20,
            tape_max=20)


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench")
    assert main(["--quick", "--out", str(out)]) == 0
    return out, json.loads((out / "env_speed.json").read_text()), (out / "env_speed.md").read_text()


def test_quick_run_writes_every_file(quick: tuple[Path, dict[str, Any], str]) -> None:
    out, result, md = quick
    assert sorted(p.name for p in out.iterdir()) == ["env_speed.json", "env_speed.md", "env_speed.png"]
    assert (out / "env_speed.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["machine"]["cpu_count"] and len(result["machine"]["loadavg_before"]) == 3
    assert result["config"]["quick"] and result["wall_s"] > 0
    assert md.startswith("# Env speed") and md.rstrip().splitlines()[-1].startswith(("PASS: ", "FAIL: "))


def test_quick_run_has_every_row_and_table(quick: tuple[Path, dict[str, Any], str]) -> None:
    _, result, md = quick
    tasks = [(i.split("/")[1], b) for i in envs.registered_ids() for b in ("mujoco", "pybullet")]
    assert [r for r in result["rows"] if "error" in r] == []
    cameras = [f"PushCube-v0/{b}/{s}" for b in ("mujoco", "pybullet") for s in ("rgb", "segmentation")]
    assert [r["key"] for r in result["rows"]] == ["Reacher-v5/mujoco", *(f"{t}/{b}" for t, b in tasks),
                                                  *cameras, "PushCube-v0/mujoco"]
    figures = result["figures"]
    for task, backend in tasks:
        f = figures["state"][f"{task}/{backend}"]
        assert all(math.isfinite(f[k]["median"]) for k in ("overhead_us", "reference_overhead_us"))
        ratio = f["ratio"]["median"]  # undefined where a noisy quick reference came out <= 0
        assert f["pass"] == (None if ratio is None else ratio <= 0.75) and len(f["ratio"]["repeats"]) == 2
        assert f"| {task} | {backend} | " in md
    for key in ("env", "raw", "ref_env", "ref_raw"):
        m = result["measurements"][f"state/PushCube-v0/pybullet/{key}"]
        assert len(m["step_us_p10"]["repeats"]) == 2 and m["steps_per_s"]["median"] > 0
    assert "setJointMotorControlArray, stepSimulation" in result["measurements"][
        "state/PushCube-v0/pybullet/raw"]["label"]
    for key in cameras:
        assert figures["camera"][key]["ratio"]["median"] > 0
    raw = result["measurements"]["camera/PushCube-v0/pybullet/segmentation/raw"]["label"]
    assert "scene.render('top', 96, 96, ('segmentation',))" in raw
    assert "| PushCube-v0 | mujoco | segmentation | " in md
    assert figures["vector"]["PushCube-v0/mujoco"]["speedup"]["median"] > 0
    assert "| Reacher-v5 | mujoco | " in md and "| reference |" in md
    for title in ("## State observations", "## Camera observations",
                  "## Vector env", "camera env ≥ 0.8x raw speed: "):
        assert title in md, title
    verdicts = [ln for ln in md.splitlines() if ln.endswith(("| **PASS** |", "| **FAIL** |", "| n/a |"))]
    assert len(verdicts) == len(tasks) + len(cameras)


def fingerprint(scene: Any) -> np.ndarray:
    """Every body's pose, velocity and joint states (PyBullet), or the integration state (MuJoCo)."""
    if not hasattr(scene, "client"):
        return scene.get_state().physics
    c, out = scene.client, []
    for body in (c.getBodyUniqueId(i) for i in range(c.getNumBodies())):
        out += [*sum(c.getBasePositionAndOrientation(body), ()), *sum(c.getBaseVelocity(body), ())]
        out += [x for j in range(c.getNumJoints(body)) for x in c.getJointState(body, j)[:2]]
    return np.array(out)


@pytest.mark.parametrize("backend", ["mujoco", "pybullet"])
def test_raw_loop_replays_the_envs_trajectory_exactly(backend: str) -> None:
    with ExitStack() as stack:  # episodes of 8 steps on a 20-step tape: restarts at 8, 16 and 20
        env, raw, _ = env_and_raw(stack, "roboloop/PushCube-v0",
                                  {"backend": backend, "obs_mode": "state", "horizon": 8}, TINY)
        assert raw.n == 20 and [i for i, s in enumerate(raw.after) if s is not None] == [7, 15, 19]
        env.start()
        raw.start()
        start = fingerprint(raw.scene)
        for step in range(25):
            excluded = (env(), raw())
            assert np.array_equal(fingerprint(env.env.unwrapped.scene), fingerprint(raw.scene)), step
            assert (excluded[0] > 0) == (excluded[1] > 0) == (step % 20 in (7, 15, 19)), step
        assert not np.array_equal(start, fingerprint(raw.scene))


def test_matched_reference_runs_one_host_step_per_reacher_step() -> None:
    with ExitStack() as stack:
        cases = {c.key.rsplit("/", 1)[1]: c for c in state_row(stack, "roboloop/CartPole-v0", "mujoco", TINY)}
        raw = cases["raw"].step
        assert isinstance(raw, RawStep)
        raw.start()
        for _ in range(5):
            raw()
        for side in ("ref_env", "ref_raw"):
            pair = cases[side].step
            assert isinstance(pair, Beside)
            pair.start()
            for _ in range(5):
                pair()
            assert (pair.host.i, pair.guest.i) == (5, 5), side
            assert pair.host.commands is not raw.commands  # each side has its own host copy ...
            assert np.array_equal(fingerprint(pair.host.scene), fingerprint(raw.scene))  # ... on one tape


class SlowStep:
    """100 µs a step; every 4th step also 'resets' for 5 ms, which it reports as excluded."""

    def __init__(self) -> None:
        self.calls = 0

    def start(self) -> None:
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        spin(1e-4)
        return spin(5e-3) if self.calls % 4 == 0 else 0.0


def spin(seconds: float) -> float:
    from benchmarks.steps import clock

    t = clock()
    while clock() - t < seconds:
        pass
    return clock() - t


def test_blocks_exclude_resets_and_take_turns() -> None:
    cases = [Case(f"k{i}", "slow", SlowStep(), block=4, block_s=1e-3) for i in range(2)]
    t = measure_group(cases, seconds=0.004)  # up to 4 turns of one 4-step block each
    turns = t["k0"]["steps"] // 4  # fewer than 4 when a loaded machine hits the deadline
    for case in cases:
        assert 1 <= turns <= 4 and t[case.key]["steps"] == 4 * turns == case.step.calls
        assert t[case.key]["resets"] == turns  # every case got the same number of blocks
        # 100 us steps; with the 5 ms resets counted a step would average >= 1350 us. The margin
        # leaves room for a loaded machine descheduling the spin.
        assert 100 <= t[case.key]["step_us_p10"] < 1000


def test_unknown_ids_fail_with_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    registered = envs.registered_ids()
    assert resolve_ids(["PushCube", "CartPole-v0", "roboloop/PushCube-v0"], registered) == (
        "roboloop/PushCube-v0", "roboloop/CartPole-v0")
    with pytest.raises(ValueError, match=", ".join(registered)):
        resolve_ids(["Pushcube"], registered)
    with pytest.raises(SystemExit) as e:
        main(["--quick", "--ids", "NoSuchTask"])
    assert e.value.code == 2 and "roboloop/Reach-v0" in capsys.readouterr().err


def test_a_row_that_fails_to_build_is_reported_and_the_run_goes_on() -> None:
    gym.register("roboloop_test/Broken-v0", entry_point="no_such_module:Env")
    try:
        result = run(Plan(ids=("roboloop_test/Broken-v0",), backends=("mujoco",), sections=("state",),
                          **QUICK))
    finally:
        del gym.registry["roboloop_test/Broken-v0"]
    assert result["rows"][1]["error"].startswith("ModuleNotFoundError")
    assert list(result["figures"]["state"]) == ["Reacher-v5/mujoco"]
    md = to_markdown(result)
    assert "| Broken-v0 | mujoco | error: ModuleNotFoundError" in md
    assert "FAIL: µs/step beyond physics ≤ 0.75x Reacher-v5's beside the same physics: 0/1 rows" in md


def test_rl_speed_times_both_sides_and_writes_its_files(tmp_path: Path) -> None:
    from benchmarks import rl_speed

    assert rl_speed.main(["--steps", "1100", "--repeats", "1", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "rl_speed.json").read_text())
    assert set(result["steps_per_second"]) == {"plain SB3", "roboloop"}
    assert result["ratio_median"] > 0 and "roboloop / plain SB3" in (tmp_path / "rl_speed.md").read_text()

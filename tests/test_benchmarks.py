"""`python -m benchmarks --quick` end to end: files written, figures well formed (speed is not tested)."""

import json
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from benchmarks import Plan, main, run, to_markdown
from benchmarks.cases import sample_actions
from benchmarks.env_speed import resolve_ids
from benchmarks.timing import Case, calibrate, measure, prepare, stats

STEPS, CAMERA_STEPS, VECTOR_STEPS, REPEATS = 60, 2, 10, 2
# In run order: the reference first, then the ids in the order asked for.
STATE_ROWS = ["Reacher-v5/mujoco", "PushCube-v0/mujoco", "PushCube-v0/pybullet", "CartPole-v0/mujoco",
              "CartPole-v0/pybullet"]
CAMERA_ROWS = ["PushCube-v0/mujoco", "PushCube-v0/pybullet"]
FRAME_SKIP = {"Reacher-v5": 2, "CartPole-v0": 4, "PushCube-v0": 10}


def positive(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def finite_stats(s: dict[str, Any]) -> bool:
    return all(isinstance(s[k], float) and math.isfinite(s[k]) for k in ("median", "min", "max"))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench")
    rc = main(["--quick", "--ids", "PushCube", "roboloop/CartPole-v0", "--steps", str(STEPS),
               "--camera-steps", str(CAMERA_STEPS), "--vector-steps", str(VECTOR_STEPS),
               "--repeats", str(REPEATS), "--out", str(out)])
    return rc, out, json.loads((out / "env_speed.json").read_text())


def test_quick_run_config_machine_and_rows(quick_run: tuple[int, Path, dict[str, Any]]) -> None:
    rc, _, result = quick_run
    assert rc == 0
    c = result["config"]
    assert c["quick"] is True and c["repeats"] == REPEATS
    assert c["steps"] == {"state": STEPS, "camera": CAMERA_STEPS, "vector": VECTOR_STEPS}
    assert c["ids"] == ["roboloop/PushCube-v0", "roboloop/CartPole-v0"]
    assert c["backends"] == ["mujoco", "pybullet"] and c["sections"] == ["state", "camera", "vector"]
    for key in ("platform", "cpu_model", "python", "mujoco", "pybullet", "gymnasium", "MUJOCO_GL"):
        assert result["machine"].get(key), key
    assert result["errors"] == []
    rows = [(r["section"], r["key"]) for r in result["rows"]]
    assert rows == ([("state", k) for k in STATE_ROWS] + [("camera", k) for k in CAMERA_ROWS]
                    + [("vector", "PushCube-v0/mujoco")])


def test_quick_run_measurements(quick_run: tuple[int, Path, dict[str, Any]]) -> None:
    m = quick_run[2]["measurements"]
    expected = ([f"state/{STATE_ROWS[0]}/{w}" for w in ("env", "raw")]  # Reacher-v5, alone
                + [f"state/{k}/{w}" for k in STATE_ROWS[1:]
                   for w in ("env", "raw", "ref_env", "ref_raw", "ref_env_matched", "ref_raw_matched")]
                + [f"camera/{k}/{w}" for k in CAMERA_ROWS for w in ("env", "raw")]
                + ["vector/PushCube-v0/mujoco/1", "vector/PushCube-v0/mujoco/2"])
    assert list(m) == expected and quick_run[2]["config"]["order"] == expected
    for key, meas in m.items():
        section, task, backend, what = key.split("/")
        reference = what.startswith("ref_")  # a row's own Reacher-v5 pair
        assert meas["section"] == section
        assert meas["backend"] == ("mujoco" if reference else backend)
        assert meas["steps"] == {"state": STEPS, "camera": CAMERA_STEPS, "vector": VECTOR_STEPS}[section]
        assert len(meas["elapsed_s"]) == REPEATS and all(positive(t) for t in meas["elapsed_s"])
        sps = meas["steps_per_s"]
        assert all(positive(sps[k]) for k in ("median", "min", "max"))
        assert sps["min"] <= sps["median"] <= sps["max"]
        if section != "vector":  # a row's Reacher-v5 reference pair is Reacher's (frame skip 2)
            assert meas["frame_skip"] == FRAME_SKIP["Reacher-v5" if reference else task], key
            assert (meas["env_id"] == "Reacher-v5") == (reference or task == "Reacher-v5"), key
        if key.endswith("env"):  # env loops record their resets separately
            assert all(isinstance(n, int) and n >= 0 for n in meas["resets"])
            assert all(0 <= r < e for r, e in zip(meas["reset_s"], meas["elapsed_s"], strict=True))
    # Reacher-v5 episodes are 50 steps: 60 steps end exactly one of them.
    assert m["state/Reacher-v5/mujoco/env"]["resets"] == [1] * REPEATS
    assert m["camera/PushCube-v0/mujoco/raw"]["label"] == (
        "ctrl[:] = recorded; mj_step(nstep=10) + update_scene(camera='top') + render() 96x96")
    assert m["camera/PushCube-v0/pybullet/raw"]["label"] == (
        "recorded motor commands + stepSimulation() x 10 + getCameraImage(camera='top', "
        "TinyRenderer) 96x96")
    for key, meas in m.items():  # every case ran in blocks; each repeat has its block quantile
        assert 1 <= meas["block_steps"] <= meas["steps"], key
        assert all(positive(v) for v in meas["step_us_q"]["repeats"]), key
    for w in (1, 2):
        v = m[f"vector/PushCube-v0/mujoco/{w}"]
        assert v["envs_per_step"] == w
        assert v["transitions_per_s"]["median"] == pytest.approx(w * v["steps_per_s"]["median"])


def test_quick_run_derived_figures(quick_run: tuple[int, Path, dict[str, Any]]) -> None:
    d = quick_run[2]["derived"]
    assert list(d["state"]) == STATE_ROWS
    for key, f in d["state"].items():
        for name in ("overhead_us", "overhead_us_excl_resets", "overhead_us_q"):
            assert finite_stats(f[name]), (key, name)
        assert positive(f["env_over_raw_q"]["median"]) and 0 <= f["reset_share"] < 1
        if key == "Reacher-v5/mujoco":
            assert "overhead_ratio" not in f  # the reference itself
            continue
        assert len(f["overhead_ratio"]["repeats"]) == REPEATS
        assert f["goal"]["goal"] == "<= 0.75" and isinstance(f["goal"]["pass"], bool)
        assert f["goal"]["pass"] == (f["overhead_ratio"]["median"] <= 0.75)
        assert finite_stats(f["matched_reference_overhead_us_q"]), key
        assert len(f["overhead_ratio_matched"]["repeats"]) == REPEATS  # reported, not judged
    for key in CAMERA_ROWS:
        f = d["camera"][key]
        assert positive(f["ratio"]["median"]) and f["goal"]["pass"] == (f["ratio"]["median"] >= 0.8)
        assert positive(f["ratio_totals"]["median"])
    assert positive(d["vector"]["PushCube-v0/mujoco"]["speedup"]["median"])
    g = d["goals"]
    assert sorted(g["overhead_ratio"]["pass"] + g["overhead_ratio"]["fail"]) == sorted(STATE_ROWS[1:])
    assert sorted(g["camera_ratio"]["pass"] + g["camera_ratio"]["fail"]) == sorted(CAMERA_ROWS)


def test_quick_run_markdown_tables(quick_run: tuple[int, Path, dict[str, Any]]) -> None:
    _, out, result = quick_run
    md = (out / "env_speed.md").read_text()
    assert md == to_markdown(result)
    for header in ("| task | backend | frame skip | env steps/s | raw physics steps/s",
                   "| task | backend | rgb 96x96 env steps/s | raw physics + render steps/s",
                   "| env | workers | transitions/s (all sub-envs) | speed-up vs 1 worker |",
                   "| goal | PASS | FAIL |"):
        assert header in md, header
    for key in STATE_ROWS:
        task, backend = key.split("/")
        assert f"| {task} | {backend} | {FRAME_SKIP[task]} | " in md, key
    assert "| Reacher-v5 | mujoco | 2 |" in md and "| reference |" in md
    for backend in ("mujoco", "pybullet"):
        assert md.count(f"| PushCube-v0 | {backend} |") == 2  # state and camera rows
    for w in (1, 2):
        assert f"| PushCube-v0 mujoco state | {w} (`AsyncVectorEnv`) |" in md
    assert md.count("**PASS**") + md.count("**FAIL**") == len(STATE_ROWS) - 1 + len(CAMERA_ROWS)
    assert not any(p.name.startswith(".") for p in out.iterdir())  # no temp files left behind


def _broken_env(**kwargs: Any) -> gym.Env:
    raise RuntimeError("scene not built yet")


def test_plot_draws_the_ratios_of_a_run(quick_run: tuple[int, Path, dict[str, Any]]) -> None:
    from benchmarks import plot

    _, out, result = quick_run
    rows = plot.ratios(result, None)
    assert list(rows) == STATE_ROWS[1:]
    assert all(r[0] is not None and r[1] is not None and r[2] is None for r in rows.values())
    assert plot.main(["--results", str(out)]) == 0
    assert (out / "env_speed.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit, match="run `python -m benchmarks` first"):
        plot.main(["--results", str(out / "missing")])


def test_ids_that_fail_to_build_become_error_rows() -> None:
    gym.register("roboloop_test/Broken-v0", entry_point=_broken_env)
    try:
        plan = Plan(ids=("roboloop_test/Broken-v0", "roboloop/Missing-v0"), backends=("mujoco",),
                    sections=("state",), seconds=0.01, steps={"state": 20})
        result = run(plan, repeats=1)
    finally:
        del gym.registry["roboloop_test/Broken-v0"]
    errors = {r["key"]: r["error"] for r in result["errors"]}
    assert errors["Broken-v0/mujoco"] == "RuntimeError: scene not built yet"
    assert errors["Missing-v0/mujoco"].startswith("NameNotFound")
    assert list(result["derived"]["state"]) == ["Reacher-v5/mujoco"]  # the rest still ran
    assert result["derived"]["goals"]["overhead_ratio"]["error"] == ["Broken-v0/mujoco",
                                                                     "Missing-v0/mujoco"]
    md = to_markdown(result)
    assert "| Broken-v0 | mujoco | error: `RuntimeError: scene not built yet` |" in md
    assert "| Missing-v0 | mujoco | error: `NameNotFound" in md
    assert "Camera" not in md and "Vector" not in md  # sections not asked for are not reported


def test_resolve_ids_accepts_names_and_lists_valid_ids() -> None:
    registered = ["roboloop/CartPole-v0", "roboloop/PushCube-v0"]
    assert resolve_ids(None, registered) == tuple(registered)
    assert resolve_ids(["PushCube", "PushCube-v0", "roboloop/CartPole-v0"], registered) == (
        "roboloop/PushCube-v0", "roboloop/CartPole-v0")
    with pytest.raises(ValueError, match="roboloop/CartPole-v0, roboloop/PushCube-v0"):
        resolve_ids(["Pushcube"], registered)
    assert main(["--quick", "--ids", "NoSuchTask"]) == 2


def test_sample_actions_are_seeded_and_in_the_space() -> None:
    box = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    a = sample_actions(box, 100, seed=0)
    assert a.shape == (100, 2) and a.dtype == np.float32 and box.contains(a[0])
    assert np.array_equal(a, sample_actions(box, 100, seed=0))
    assert np.array_equal(a[:10], sample_actions(box, 10, seed=0))  # a longer tape keeps the prefix
    d = sample_actions(gym.spaces.Discrete(2), 100, seed=0)
    assert set(d.tolist()) == {0, 1} and all(gym.spaces.Discrete(2).contains(x) for x in d)


class FakeLoop:
    """100 µs per step, or 300 µs in every third block (a noisy neighbour); counts its calls."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.starts = 0

    def start(self) -> None:
        self.starts += 1

    def run(self, n: int) -> dict[str, float]:
        self.calls.append(n)
        slow = len(self.calls) % 3 == 0
        return {"elapsed_s": n * (3e-4 if slow else 1e-4), "reset_s": 0.0, "resets": 0}


def test_calibrate_sizes_steps_to_the_target_duration() -> None:
    loop = FakeLoop()
    loop.calls.clear()
    loop.run = lambda n: (loop.calls.append(n), {"elapsed_s": n * 1e-4})[1]  # steady 100 µs/step
    assert abs(calibrate(loop, 0.5) - 5000) <= 1
    assert loop.calls[0] == 20 and loop.calls[-1] * 1e-4 >= 0.05  # probes double until 10%
    loop = FakeLoop()
    case = Case("state", "k", "label", "id", "mujoco", 1, loop)
    prepare(case, 300, seconds=1.0)
    assert case.steps == 300 and loop.calls == [200]  # fixed counts: warm-up only, no probe
    assert case.block == 30  # 3 ms blocks at 100 µs per step


def test_measure_takes_turns_in_blocks_and_reports_the_uncontended_quantile() -> None:
    a, b = FakeLoop(), FakeLoop()
    cases = [Case("state", "a", "a", "id", "mujoco", 1, a, steps=95, block=10),
             Case("state", "b", "b", "id", "mujoco", 1, b, steps=20, block=10)]
    timings = measure(cases, repeats=2)
    assert a.calls == ([10] * 9 + [5]) * 2 and b.calls == [10, 10] * 2  # b's turns end early
    assert a.starts == b.starts == 2
    t = timings["a"][0]
    assert t["blocks"] == 9  # the short last block is not a block
    assert t["step_us_q"] == pytest.approx(100.0)  # the slow blocks are above the 10th percentile
    assert t["elapsed_s"] == pytest.approx(sum(n * (3e-4 if i % 3 == 2 else 1e-4)
                                               for i, n in enumerate([10] * 9 + [5])))


def test_stats_skips_undefined_values() -> None:
    assert stats([3.0, None, 1.0, float("inf"), 2.0])["median"] == 2.0
    assert stats([None])["median"] is None


def simulated_state(env: gym.Env) -> np.ndarray:
    """Positions and velocities as the simulator holds them (not a scene's cached reading)."""
    scene = env.unwrapped.scene
    if hasattr(scene, "data"):
        return np.concatenate([scene.data.qpos, scene.data.qvel])
    c = scene.client
    joints = [v for s in c.getJointStates(scene.pusher, [0, 1]) for v in s[:2]]
    pose, velocity = c.getBasePositionAndOrientation(scene.cube), c.getBaseVelocity(scene.cube)
    return np.array([*joints, *pose[0], *pose[1], *velocity[0], *velocity[1]])


@pytest.mark.parametrize("backend", ["mujoco", "pybullet"])
def test_raw_loop_replays_the_env_trajectory_across_episode_ends(backend: str) -> None:
    """The raw loop simulates what the env simulated: same states after the same steps."""
    from contextlib import ExitStack

    from benchmarks.cases import ActionTape
    from benchmarks.raw import raw_loop
    from benchmarks.timing import EnvLoop

    kwargs = {"backend": backend, "horizon": 7}  # episode ends inside the run
    with ExitStack() as stack:
        env, raw_env = gym.make("roboloop/PushCube-v0", **kwargs), gym.make("roboloop/PushCube-v0", **kwargs)
        stack.callback(env.close)
        stack.callback(raw_env.close)
        tape = ActionTape(env.action_space, seed=3)
        _, raw = raw_loop(stack, raw_env, tape.take, seed=3)
        loop = EnvLoop(env, tape.take, seed=3)
        loop.start()
        raw.start()
        for n in (5, 6, 1, 9):  # continue along the trajectory in uneven blocks
            t_env, t_raw = loop.run(n), raw.run(n)
            assert t_env["resets"] == t_raw["resets"]
            assert np.allclose(simulated_state(env), simulated_state(raw_env), atol=1e-9)
        assert loop.i == raw.i == 21



@pytest.mark.parametrize("backend", ["mujoco", "pybullet"])
def test_physics_after_runs_one_host_step_before_each_guest_physics_step(backend: str) -> None:
    """The matched reference: Reacher-v5 (env or raw loop) after each step of a task's raw physics."""
    from contextlib import ExitStack

    from benchmarks.cases import ActionTape
    from benchmarks.raw import physics_after, raw_loop
    from benchmarks.timing import EnvLoop

    kwargs = {"backend": backend, "horizon": 7}  # the host's episodes end (and restore) in the run
    with ExitStack() as stack:
        made = [gym.make("roboloop/PushCube-v0", **kwargs) for _ in range(3)]
        reachers = [gym.make("Reacher-v5") for _ in range(2)]
        for env in made + reachers:
            stack.callback(env.close)
        tape, reacher_tape = ActionTape(made[0].action_space, 3), ActionTape(reachers[0].action_space, 3)
        hosts = [raw_loop(stack, env, tape.take, seed=3)[1] for env in made]
        for host in hosts:
            host.start()
        guest_env = EnvLoop(reachers[0], reacher_tape.take, seed=3)
        _, guest_raw = raw_loop(stack, reachers[1], reacher_tape.take, seed=3)
        physics_after(hosts[0], reachers[0])
        physics_after(hosts[1], guest_raw)
        guest_env.start()
        guest_raw.start()
        assert guest_env.run(12)["resets"] == 0 and guest_raw.run(12)["resets"] == 0
        hosts[2].run(12)  # the host alone, replayed in one go
        assert hosts[0].i == hosts[1].i == hosts[2].i == 12  # one host step per guest step
        for host in hosts[:2]:  # ... and it followed the same trajectory, restores included
            assert np.allclose(simulated_state(host.env), simulated_state(hosts[2].env), atol=1e-9)
        assert np.allclose(reachers[0].unwrapped.data.qpos, reachers[1].unwrapped.data.qpos)


def test_step_cost_turns_the_physics_off_and_restores_it(tmp_path: Path) -> None:
    import mujoco
    import pybullet

    from benchmarks import step_cost

    names = [(mujoco, "mj_step"), (mujoco, "mj_rnePostConstraint"), (pybullet, "stepSimulation"),
             (pybullet, "setJointMotorControlArray"), (pybullet, "setJointMotorControl2")]
    originals = [getattr(module, name) for module, name in names]
    env = gym.make("roboloop/PushCube-v0")
    env.reset(seed=0)
    before = env.unwrapped.scene.data.qpos.copy()
    with step_cost.physics_off():
        env.step(np.ones(2, np.float32))
        assert np.array_equal(env.unwrapped.scene.data.qpos, before)  # nothing moved
    assert [getattr(module, name) for module, name in names] == originals
    env.close()
    result = step_cost.run(["roboloop/CartPole-v0"], repeats=2, steps=40)
    assert [(r["task"], r["backend"]) for r in result["rows"]] == [
        ("Reacher-v5", "mujoco"), ("CartPole-v0", "mujoco"), ("CartPole-v0", "pybullet")]
    assert all(finite_stats(r["us_per_step"]) for r in result["rows"])
    assert all(finite_stats(r["ratio_to_reacher"]) for r in result["rows"][1:])
    assert "| CartPole-v0 | pybullet |" in step_cost.to_markdown(result)
    assert step_cost.main(["--steps", "10", "--repeats", "1", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "step_cost.json").exists() and (tmp_path / "step_cost.md").exists()


def test_measure_runs_groups_one_after_another() -> None:
    order: list[str] = []

    class Named(FakeLoop):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def run(self, n: int) -> dict[str, float]:
            order.append(self.name)
            return super().run(n)

    cases = [Case("state", k, k, "id", "mujoco", 1, Named(k), steps=20, block=10, group=g)
             for k, g in (("a", 0), ("b", 0), ("c", 1))]
    measure(cases, repeats=1)
    assert order == ["a", "b", "a", "b", "c", "c"]  # a and b take turns; c runs after them



def test_code_after_physics_reports_each_piece_alone_and_after_both_physics(tmp_path: Path) -> None:
    from benchmarks import code_after_physics as cap

    result = cap.run((("roboloop/CartPole-v0", "pybullet"),), repeats=1, steps=30)
    (row,) = result["rows"]
    assert (row["task"], row["backend"]) == ("CartPole-v0", "pybullet")
    assert set(row["alone_us"]) == set(cap.PIECES) and all(positive(v) for v in row["alone_us"].values())
    assert set(row["after_us"]) == set(cap.HOSTS)
    for host in cap.HOSTS:
        assert all(finite_stats(row["after_us"][host][p]) for p in cap.PIECES)
    assert "| CartPole-v0 | pybullet | task code |" in cap.to_markdown(result)
    with pytest.raises(SystemExit, match="unknown id"):
        cap.main(["--ids", "roboloop/Nope-v0", "--out", str(tmp_path)])

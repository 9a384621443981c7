"""What the same Python costs right after a physics step: ``python -m benchmarks.code_after_physics``.

The env speed benchmark's judged figure compares a task's time beyond physics with Reacher-v5's,
each right after its own physics. This measures why that comparison depends on the physics:
a fixed piece of Python is timed alone (``timeit``), then step by step right after one step of
the task's own raw physics, and right after one step of Reacher-v5's raw physics. The pieces:

- ``task code``: the scene's state read, the task's reward terms, outcome and state vector: what
  a ``TaskEnv`` step runs after the physics, minus its bookkeeping;
- ``state read``: ``scene.read()`` alone;
- ``plain loop``: 80 float additions in a loop (little code, little data).

After physics, each piece's cost is its loop's time per step minus that of the same loop running a
no-op (the host's raw physics cancels), p10 of ~3 ms blocks taking turns, median over repeats. A
piece run after the task's physics reads that scene (whose data the physics just wrote); after
Reacher-v5's physics it reads a second copy of the task's env.
Writes ``code_after_physics.json`` and ``.md`` to ``benchmarks/results/`` (or ``--out``).
"""

import argparse
import functools
import time
import timeit
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import gymnasium as gym

import envs
from benchmarks.cases import REACHER, SEED, ActionTape, short
from benchmarks.env_speed import DEFAULT_OUT
from benchmarks.raw import raw_loop
from benchmarks.report import fmt_stats, write_results
from benchmarks.step_cost import companion_result
from benchmarks.timing import Case, Timing, measure, prepare, stats

ROWS = (("roboloop/Reach-v0", "mujoco"), ("roboloop/Reach-v0", "pybullet"))
PIECES = ("task code", "state read", "plain loop")
HOSTS = ("own physics", f"{REACHER} physics")
SECONDS, REPEATS = 0.5, 5


class AfterPhysics:
    """Each step: one step of a raw physics loop (``advance``), then ``piece()``."""

    def __init__(self, host: Any, piece: Callable[[], Any]) -> None:
        self.host, self.piece = host, piece

    def start(self) -> None:
        self.host.start()

    def run(self, n: int) -> Timing:
        advance, piece, clock = self.host.advance, self.piece, time.perf_counter
        start = clock()
        for _ in range(n):
            advance()
            piece()
        return {"elapsed_s": clock() - start, "reset_s": 0.0, "resets": 0}


def pieces(env: Any) -> dict[str, Callable[[], Any]]:
    """The measured pieces of Python, bound to ``env`` (reset and stepped once)."""
    env.reset(seed=SEED)
    env.step(env.action_space.sample())
    u = env.unwrapped
    scene, task, action = u.scene, u.task, env.action_space.sample()

    def task_code() -> Any:
        state = scene.read()
        task.reward_terms(state, action)
        task.outcome(state)
        return task.state_vector(state)

    def plain_loop() -> float:
        x = 0.0
        for i in range(80):
            x += i * 0.5
        return x

    return {"task code": task_code, "state read": scene.read, "plain loop": plain_loop,
            "nothing": lambda: None}


def _make(stack: ExitStack, backend: str, env_id: str) -> Any:
    env = gym.make(env_id) if env_id == REACHER else gym.make(env_id, backend=backend)
    stack.callback(env.close)
    return env


def run(rows: tuple[tuple[str, str], ...] = ROWS, seconds: float = SECONDS, repeats: int = REPEATS,
        steps: int | None = None) -> dict[str, Any]:
    """Per row: each piece alone, after the task's physics and after Reacher-v5's (µs per step)."""
    out_rows = []
    for env_id, backend in rows:
        with ExitStack() as stack:
            make = functools.partial(_make, stack, backend)
            alone = {name: 1e6 * min(timeit.repeat(fn, number=2000, repeat=5)) / 2000
                     for name, fn in pieces(make(env_id)).items() if name != "nothing"}
            cases = []
            for host_name, host_id in zip(HOSTS, (env_id, REACHER), strict=True):
                for piece in (*PIECES, "nothing"):
                    host_env = make(host_id)
                    _, host = raw_loop(stack, host_env, ActionTape(host_env.action_space, SEED).take, SEED)
                    target = host_env if host_id == env_id else make(env_id)
                    fn = pieces(target)[piece]
                    host.start()  # record, then bind: the pieces read the state the physics writes
                    case = Case("state", f"{host_name}/{piece}", piece, env_id, backend, None,
                                AfterPhysics(host, fn))
                    prepare(case, steps, seconds)
                    cases.append(case)
            timings = measure(cases, repeats)
        after: dict[str, dict[str, Any]] = {}
        for host_name in HOSTS:
            base = [t["step_us_q"] for t in timings[f"{host_name}/nothing"]]
            after[host_name] = {piece: stats([t["step_us_q"] - b for t, b in zip(
                timings[f"{host_name}/{piece}"], base, strict=True)]) for piece in PIECES}
        out_rows.append({"task": short(env_id), "backend": backend, "alone_us": alone,
                         "after_us": after})
    return companion_result("code_after_physics", out_rows, seconds=seconds, steps=steps,
                            repeats=repeats)


def to_markdown(result: dict[str, Any]) -> str:
    """One table: per task x backend and piece, its µs alone and after each physics."""
    c = result["config"]
    lines = [f"The same Python, alone and right after a physics step, {result['timestamp']}: "
             f"µs per step (after physics: the loop's p{c['quantile']} block time minus a no-op "
             f"loop's, ~{1e3 * c['block_s']:g} ms blocks taking turns, median (min–max) over "
             f"{c['repeats']} repeats).", "",
             "| task | backend | Python | alone (timeit) | after the task's physics | "
             f"after {REACHER}'s physics |", "|---|---|---|---:|---:|---:|"]
    for row in result["rows"]:
        for piece in PIECES:
            own, ref = (row["after_us"][h][piece] for h in HOSTS)
            lines.append(f"| {row['task']} | {row['backend']} | {piece} | "
                         f"{row['alone_us'][piece]:.1f} | {fmt_stats(own, '.1f')} | "
                         f"{fmt_stats(ref, '.1f')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, write ``code_after_physics.json`` and ``.md``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.code_after_physics",
                                description=__doc__.split("\n")[0])
    p.add_argument("--ids", nargs="+", default=[ROWS[0][0]], help="roboloop ids (default Reach)")
    p.add_argument("--backends", nargs="+", default=["mujoco", "pybullet"],
                   choices=["mujoco", "pybullet"])
    p.add_argument("--seconds", type=float, default=SECONDS, help="per measurement and repeat")
    p.add_argument("--steps", type=int, help="fixed steps per measurement and repeat instead")
    p.add_argument("--repeats", type=int, default=REPEATS)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    unknown = sorted(set(args.ids) - set(envs.registered_ids()))
    if unknown:
        raise SystemExit(f"unknown id(s) {unknown}; registered: {envs.registered_ids()}")
    rows = tuple((i, b) for i in args.ids for b in args.backends)
    result = run(rows, args.seconds, args.repeats, args.steps)
    markdown = to_markdown(result)
    write_results(result, markdown, args.out, "code_after_physics")
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

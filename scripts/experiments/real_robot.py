"""The real-robot path measured against the simulator-backed robot server on loopback.

    python scripts/experiments/real_robot.py            # ~25 min on 2 CPU cores
    python scripts/experiments/real_robot.py --quick    # ~3 min, to check the pipeline

1. Success of sim-trained policies (the PushCube scripted expert and a BC policy trained on 100
   simulated demonstrations) on the same held-out seeds, run directly in simulation and through
   RealRobotEnv + the robot server (scripts/robot_server.py, its own process) with injected
   latency, jitter and dropped messages: as fast as the lock-step sim answers, and paced at the
   task's 20 Hz.
2. Round-trip latency percentiles of those runs; control-loop period, jitter, late steps.
3. Watchdog stop time: the delay from a client's last command to the hold the robot received.
4. 10,000 fuzzed messages: what the server refused, and what reached the robot.
5. A policy slower than the control period: how many late steps were reported.

Writes docs/results/real_robot.{json,md}.
"""

import argparse
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import gymnasium as gym
import numpy as np
import zmq

import envs  # noqa: F401
from agents import TrainingSource
from agents.bc import BCAgent, BCConfig
from agents.experts import PushCubeExpert
from dataset import DatasetWriter, DemoDataset, atomic_write_text
from envs.real import Faults, MockRobot, RealRobotConfig, RealRobotEnv, SafetyConfig
from envs.real.client import ClientConfig, RemoteRobot
from envs.real.errors import RobotConnectionError
from envs.real.fuzz import fuzz_messages
from envs.real.server import RobotServer, ServerConfig
from loop import evaluate
from loop.collect import collect
from loop.evaluation import evaluation_seeds
from loop.relabel import Relabelled

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "results"
TASK, TASK_KW, HORIZON = "roboloop/PushCube-v0", {"obs_mode": "state"}, 150
FAULTS = Faults(latency_s=0.002, jitter_s=0.003, drop_rate=0.01, seed=0)
TOKEN = secrets.token_hex(16)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(faults: Faults, run_dir: Path) -> tuple[subprocess.Popen, str]:
    """scripts/robot_server.py serving the simulated PushCube in its own process."""
    address = f"tcp://127.0.0.1:{free_port()}"
    overrides = ["robot=sim_push_cube", f"robot.address={address}", "robot.task_kwargs.obs_mode=state",
                 f"robot.faults.latency_s={faults.latency_s}", f"robot.faults.jitter_s={faults.jitter_s}",
                 f"robot.faults.drop_rate={faults.drop_rate}", f"hydra.run.dir={run_dir}"]
    env = {**os.environ, "ROBOLOOP_ROBOT_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "robot_server.py"), *overrides], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    if "serving" not in line:
        raise RobotConnectionError(f"the robot server did not start: {line}{proc.stdout.read()}")
    return proc, address


def through_robot(agent, seeds: list[int], faults: Faults, realtime: bool, run_dir: Path) -> dict:
    """Evaluate ``agent`` through RealRobotEnv + a robot server process; success, latency, timing."""
    proc, address = start_server(faults, run_dir)
    try:
        robot = RemoteRobot(ClientConfig(address=address, token=TOKEN, timeout_s=0.1, retries=20))
        env = RealRobotEnv(robot, RealRobotConfig(horizon=HORIZON, realtime=realtime, task_id=TASK,
                                                  task_kwargs={**TASK_KW, "privileged_state": True}))
        t0 = time.perf_counter()
        summary = evaluate(env, agent, seeds, progress=None)
        wall = time.perf_counter() - t0
        status = robot.status()
        timing = env.rate.stats.summary()
        env.close()
    finally:
        proc.terminate()
        log = proc.communicate(timeout=30)[0]
    return {**success(summary), "wall_s": round(wall, 1), "latency": robot.latency.summary(),
            "timing": timing, "safety_counts": status.get("safety", {}).get("counts", {}),
            "server_log_tail": log[-400:]}


def success(summary) -> dict:
    k = round(summary.success_rate * summary.episodes)
    return {"successes": k, "episodes": summary.episodes, "success_rate": summary.success_rate,
            "success_ci95": summary.success_ci95,
            "outcomes_per_seed": [r["success"] for r in summary.per_episode]}


def paired_difference(a: list[bool], b: list[bool], resamples: int = 10_000) -> dict:
    """Success of ``b`` minus ``a`` in points over the same seeds, with a paired bootstrap 95% interval."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(a), (resamples, len(a)))
    diffs = (b[idx] - a[idx]).mean(axis=1)
    return {"points": float(100 * (b.mean() - a.mean())),
            "ci95_points": [float(100 * np.percentile(diffs, 2.5)), float(100 * np.percentile(diffs, 97.5))],
            "discordant_seeds": int((a != b).sum())}


def train_bc(tmp: Path, demos: int, steps: int) -> BCAgent:
    """BC on ``demos`` DART demonstrations in simulation (state observations), as `make demo` does."""
    writer = DatasetWriter(tmp / "demos", env_id=TASK, env_kwargs=TASK_KW, fps=20)
    collect(gym.make(TASK, **TASK_KW), Relabelled(PushCubeExpert(), noise_std=0.6), range(demos), writer,
            progress=None)
    return BCAgent.fit(BCConfig(steps=steps), TrainingSource.from_dataset(DemoDataset(tmp / "demos"),
                                                                          progress=False))


def sim_vs_robot(agents: dict, episodes: int, realtime_episodes: int, tmp: Path) -> list[dict]:
    rows = []
    seeds = evaluation_seeds(episodes)
    for name, agent in agents.items():
        direct = success(evaluate(gym.make(TASK, **TASK_KW), agent, seeds, progress=None))
        row = {"policy": name, "direct": direct}
        slug = name.split()[0].lower()
        row["robot_fast"] = through_robot(agent, seeds, FAULTS, False, tmp / f"{slug}_fast")
        rt_seeds = seeds[:realtime_episodes]
        row["robot_realtime"] = through_robot(agent, rt_seeds, FAULTS, True, tmp / f"{slug}_rt")
        row["diff_fast"] = paired_difference(direct["outcomes_per_seed"],
                                             row["robot_fast"]["outcomes_per_seed"])
        row["diff_realtime"] = paired_difference(direct["outcomes_per_seed"][:realtime_episodes],
                                                 row["robot_realtime"]["outcomes_per_seed"])
        rows.append(row)
        print(name, json.dumps({k: v for k, v in row.items() if k.startswith("diff")}), flush=True)
    return rows


def watchdog_stop_times(trials: int) -> dict:
    """Commands at 20 Hz, then silence: delay from the last command to the hold, at the robot."""
    delays = []
    for _ in range(trials):
        mock = MockRobot(3)
        server = RobotServer(mock, ServerConfig(port=0, token=TOKEN))
        server.start()
        robot = RemoteRobot(ClientConfig(address=server.endpoint, token=TOKEN))
        robot.connect()
        robot.reset(0)
        for _ in range(5):
            robot.send_action(np.full(3, 0.2, np.float32))
            time.sleep(0.05)
        time.sleep(0.25)
        last = [c for c in mock.commands if c.action.any()][-1]
        hold = next(c for c in mock.commands if c.t > last.t)
        delays.append(hold.t - last.t)
        robot._close_socket()  # die without a goodbye
        server.stop()
    d = np.asarray(delays) * 1e3
    return {"trials": trials, "timeout_ms": SafetyConfig().watchdog_timeout_s * 1e3,
            "p50_ms": float(np.median(d)), "p95_ms": float(np.percentile(d, 95)), "max_ms": float(d.max()),
            "within_100ms": int((d <= 100).sum())}


def fuzz(n: int) -> dict:
    """``n`` fuzzed messages at a served MockRobot, one at a time; then one valid client."""
    logging.getLogger("envs.real.server").setLevel(logging.ERROR)  # not 10,000 rejection lines here
    mock = MockRobot(3)
    server = RobotServer(mock, ServerConfig(port=0, token=TOKEN))
    server.start()
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.connect(server.endpoint)
    t0, refusals = time.perf_counter(), 0
    for frames in fuzz_messages(n, TOKEN.encode(), seed=n):
        sock.send_multipart(frames)
        if sock.poll(5000):
            refusals += b'"type":"error"' in sock.recv_multipart()[-1]
    wall = time.perf_counter() - t0
    sock.close(linger=0)
    reached = len(mock.commands) + len(server.robot.history)
    robot = RemoteRobot(ClientConfig(address=server.endpoint, token=TOKEN))
    robot.connect()
    robot.reset(0)
    robot.send_action(np.zeros(3, np.float32))
    serves = len(mock.commands) == 1
    robot.disconnect()
    server.stop()
    return {"messages": n, "answered_with_error": refusals, "rejections": dict(server.rejections),
            "commands_reaching_robot_during_fuzz": reached, "server_serves_after": serves,
            "wall_s": round(wall, 1)}


def slow_policy(steps: int) -> dict:
    """A policy that takes 70 ms of a 50 ms period, on a served MockRobot."""
    server = RobotServer(MockRobot(3), ServerConfig(port=0, token=TOKEN))
    server.start()
    env = RealRobotEnv(RemoteRobot(ClientConfig(address=server.endpoint, token=TOKEN)),
                       RealRobotConfig(horizon=steps))
    env.reset(seed=0)
    late = 0
    for _ in range(steps):
        time.sleep(0.07)
        late += env.step(np.zeros(3, np.float32))[-1]["timing"]["late"]
    stats = env.rate.stats.summary()
    env.close()
    server.stop()
    return {"steps": steps, "late_steps_reported": late, "missed_deadlines": stats["missed_deadlines"],
            "policy_p50_s": stats["policy_p50_s"], "watchdog_holds": server.robot.counts["watchdog"]}


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def ms(seconds: float) -> str:
    return f"{1e3 * seconds:.1f}"


def to_markdown(result: dict) -> str:
    """Tables for docs/results.md."""
    c, f = result["config"], result["config"]["faults"]
    lines = [f"{c['task']} {c['task_kwargs']}, held-out seeds from 100000. Robot server in its own "
             f"process on loopback, injected latency {ms(f['latency_s'])} ms + jitter up to "
             f"{ms(f['jitter_s'])} ms, "
             f"{100 * f['drop_rate']:.0f}% of requests and of replies dropped; default safety (change per "
             "step, workspace and speed limits, 80 ms watchdog).", "",
             "| policy | run | episodes | success | 95% CI | minus direct, points (paired 95% CI) "
             "| RTT p50 / p95 / p99 ms | retries |", "|---|---|---:|---:|---|---|---|---:|"]
    for row in result["sim_vs_robot"]:
        d = row["direct"]
        lines.append(f"| {row['policy']} | direct in simulation | {d['episodes']} | {pct(d['success_rate'])} "
                     f"| {pct(d['success_ci95'][0])}-{pct(d['success_ci95'][1])} | | | |")
        for key, label in (("fast", "robot server, unpaced"), ("realtime", "robot server, 20 Hz")):
            r, diff = row[f"robot_{key}"], row[f"diff_{key}"]
            lat, ci = r["latency"], diff["ci95_points"]
            lines.append(f"| {row['policy']} | {label} | {r['episodes']} | {pct(r['success_rate'])} | "
                         f"{pct(r['success_ci95'][0])}-{pct(r['success_ci95'][1])} | {diff['points']:+.1f} "
                         f"({ci[0]:+.1f} to {ci[1]:+.1f}) | {ms(lat['p50_s'])} / {ms(lat['p95_s'])} / "
                         f"{ms(lat['p99_s'])} | {lat['retries']} |")
    w, z, slow = result["watchdog"], result["fuzz"], result["slow_policy"]
    t = result["sim_vs_robot"][0]["robot_realtime"]["timing"]
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(z["rejections"].items()))
    lines += ["", "| measurement | result |", "|---|---|",
              f"| control loop at 20 Hz (expert, {t['steps']} steps) | period mean "
              f"{ms(t['period_mean_s'])} ms; jitter p50 {1e3 * t['jitter_p50_s']:.2f}, p95 "
              f"{1e3 * t['jitter_p95_s']:.2f}, max {ms(t['jitter_max_s'])} ms; "
              f"{t['missed_deadlines']} missed deadlines |",
              f"| watchdog stop time, {w['trials']} trials (timeout {w['timeout_ms']:.0f} ms) | p50 "
              f"{w['p50_ms']:.1f} ms, p95 {w['p95_ms']:.1f} ms, max {w['max_ms']:.1f} ms; "
              f"{w['within_100ms']}/{w['trials']} within 100 ms |",
              f"| fuzz, {z['messages']} messages ({z['wall_s']} s) | {z['answered_with_error']} answered "
              f"with a refusal, {sum(z['rejections'].values())} counted by reason; "
              f"{z['commands_reaching_robot_during_fuzz']} commands reached the robot; serving after: "
              f"{z['server_serves_after']} |",
              f"| fuzz rejections by reason | {reasons} |",
              f"| policy taking 70 ms of a 50 ms period | {slow['late_steps_reported']}/{slow['steps']} "
              f"steps reported late, {slow['missed_deadlines']} missed deadlines, {slow['watchdog_holds']} "
              "watchdog holds |"]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run every measurement and write JSON and Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small numbers, to check the pipeline")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    episodes, realtime_episodes, demos, steps, trials, fuzz_n = 100, 50, 100, 10_000, 50, 10_000
    if args.quick:
        episodes, realtime_episodes, demos, steps, trials, fuzz_n = 6, 3, 10, 300, 5, 500
    t0 = time.perf_counter()
    with TemporaryDirectory() as tmp:
        bc = train_bc(Path(tmp), demos, steps)
        agents = {"scripted expert": PushCubeExpert(), f"BC ({demos} sim demos)": bc}
        rows = sim_vs_robot(agents, episodes, realtime_episodes, Path(tmp))
    result = {"config": {"task": TASK, "task_kwargs": TASK_KW, "horizon": HORIZON, "faults": vars(FAULTS),
                         "episodes": episodes, "realtime_episodes": realtime_episodes, "bc_demos": demos,
                         "bc_steps": steps, "safety": SafetyConfig().to_dict()},
              "sim_vs_robot": rows, "watchdog": watchdog_stop_times(trials), "fuzz": fuzz(fuzz_n),
              "slow_policy": slow_policy(20), "wall_s": round(time.perf_counter() - t0)}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "real_robot.json", json.dumps(result, indent=2) + "\n")
    atomic_write_text(args.out / "real_robot.md", to_markdown(result))
    print(to_markdown(result))


if __name__ == "__main__":
    main()

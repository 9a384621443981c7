"""What one more camera env costs in memory: RSS growth per env, each case in a fresh process.

A fresh interpreter makes one camera env (paying the one-off library and GL start-up), then
``count`` more, and reports the resident-set growth per further env. Run per backend and image
size, so the table shows what a user pays for each env of a vectorized or multi-env setup.
"""

import json
import subprocess
import sys

_SNIPPET = """
import json, os, sys
import envs, gymnasium as gym
def rss():
    return int(open(f"/proc/{os.getpid()}/status").read().split("VmRSS:")[1].split()[0]) / 1024
backend, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
kwargs = dict(backend=backend, obs_mode="rgb", image_size=size)
kept = [gym.make("roboloop/PushCube-v0", **kwargs)]
kept[0].reset(seed=0)
before = rss()
for _ in range(count):
    kept.append(gym.make("roboloop/PushCube-v0", **kwargs))
    kept[-1].reset(seed=0)
print(json.dumps({"first_env_mb": before, "per_env_mb": (rss() - before) / count}))
"""


def camera_env_memory(backend: str, size: int, count: int = 3) -> dict[str, float]:
    """``{"first_env_mb", "per_env_mb"}`` for PushCube with one ``size`` x ``size`` RGB camera."""
    out = subprocess.run([sys.executable, "-c", _SNIPPET, backend, str(size), str(count)],
                         capture_output=True, text=True, check=True, timeout=300)
    return {k: round(v, 1) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def memory_table(memory: dict[str, dict[str, float]]) -> str:
    """Markdown: one line per backend and image size."""
    lines = ["| task | backend | image | process RSS with one camera env (MB) | each further env (MB) |",
             "|---|---|---|---:|---:|"]
    for key, m in memory.items():
        backend, size = key.split("/")
        lines.append(f"| PushCube-v0 | {backend} | {size}x{size} rgb | {m['first_env_mb']:.0f} "
                     f"| {m['per_env_mb']:.1f} |")
    return "\n".join(lines)

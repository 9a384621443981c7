"""What the online-learning experiments (rl.py, model_based.py) measure of each trained run.

A run's held-out test (evaluation seeds 100000+, never trained on), the first validation point at
or above 90% success on its learning curve, and the seeds of a cell pooled with a Wilson 95%
interval: one definition, so the two experiments' tables mean the same thing.
"""

import envs
from loop import evaluate, wilson_interval
from loop.evaluation import evaluation_seeds


def test_figures(env_id: str, env_kwargs: dict, agent, curve: list[dict], episodes: int,
                 perception=None) -> dict:  # noqa: ANN001
    """Held-out test success and return, and when validation first reached 90% (None if never)."""
    env = envs.make(env_id, **env_kwargs)
    test = evaluate(env, agent, evaluation_seeds(episodes), perception=perception, progress=None)
    env.close()
    reached = next((p for p in curve if p["success_rate"] >= 0.9), None)
    return {"test_success": test.success_rate, "test_success_ci95": list(test.success_ci95),
            "test_mean_return": test.mean_return, "test_episodes": test.episodes,
            "validation_90_step": reached and reached["step"],
            "validation_90_seconds": reached and reached["seconds"], "curve": curve}


def pooled(runs: list[dict]) -> dict:
    """The seeds' test episodes pooled: success rate and its Wilson 95% interval."""
    k = sum(round(r["test_success"] * r["test_episodes"]) for r in runs)
    n = sum(r["test_episodes"] for r in runs)
    return {"pooled_success": k / n, "pooled_success_ci95": list(wilson_interval(k, n))}


def per_seed(runs: list[dict], key: str, fmt: str, missing: str = "-") -> str:
    """One table cell: ``key`` of every seed's run, formatted with ``fmt`` (``missing`` where None)."""
    return ", ".join(missing if r[key] is None else format(r[key], fmt) for r in runs)

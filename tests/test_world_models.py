"""World models and planning: planners, dynamics models, batched rewards, MPC, the simulator planner."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs
from agents import TrainingSource, find_method, load_agent, make_config
from envs import ConfigError
from envs.errors import SnapshotError
from loop import rollout
from loop.protocols import Callback
from world_models.dynamics import WorldModelConfig, beta_nll, build, disagreement, fit
from world_models.mpc import MPC, SimulatorPlanner
from world_models.objectives import check_model_fits, model_objective, simulator_objective, task_reward
from world_models.planners import PlannerConfig, PlanningError, colored_noise, plan

REACH, PUSH_CUBE = "roboloop/Reach-v0", "roboloop/PushCube-v0"
BACKENDS = ["mujoco", "pybullet"]


def quadratic(target: torch.Tensor):
    """Objective whose maximum (0) is at ``target`` (H, Da): minus the squared distance."""
    return lambda actions: -((actions - target) ** 2).sum(dim=(1, 2))


@pytest.mark.parametrize(("method", "options"), [
    ("cem", {"samples": 400, "elites": 40}),
    ("icem", {"samples": 400, "elites": 40}),
    ("mppi", {"samples": 1000, "init_std": 0.2, "temperature": 1.0}),  # fixed noise: averages it out
])
def test_cem_and_mppi_find_the_minimum_of_a_known_quadratic(method: str, options: dict) -> None:
    target = torch.tensor([[0.3, -0.5], [0.8, 0.1], [-0.2, 0.6]])
    cfg = PlannerConfig(method=method, horizon=3, iterations=30, **options)
    best = plan(quadratic(target), torch.zeros(3, 2), cfg, torch.Generator().manual_seed(0))
    assert best.shape == (3, 2)
    assert torch.allclose(best, target, atol=0.03), best


def test_colored_noise_is_unit_variance_and_smoother_as_beta_grows() -> None:
    lag1 = {}
    for beta in (0.0, 1.0, 2.0, 3.0):
        noise = colored_noise(4000, 16, 2, beta, torch.Generator().manual_seed(0))
        assert noise.shape == (4000, 16, 2)
        assert abs(noise.std().item() - 1) < 0.05, (beta, noise.std())
        lag1[beta] = (noise[:, 1:] * noise[:, :-1]).mean().item()  # correlation of neighbouring steps
    assert abs(lag1[0.0]) < 0.03 and lag1[0.0] < lag1[1.0] < lag1[2.0] < lag1[3.0]
    assert colored_noise(3, 1, 2, 2.0, torch.Generator()).shape == (3, 1, 2)  # one step: white


def test_icem_returns_the_best_sequence_it_tried() -> None:
    seen = []

    def objective(actions: torch.Tensor) -> torch.Tensor:
        seen.append(actions.clone())
        return -((actions - 0.4) ** 2).sum(dim=(1, 2))

    cfg = PlannerConfig(method="icem", horizon=5, samples=30, iterations=3, elites=6, keep_elites=0.5)
    best = plan(objective, torch.zeros(5, 2), cfg, torch.Generator().manual_seed(1))
    calls, tried = len(seen), torch.cat(seen)
    score = -((tried - 0.4) ** 2).sum(dim=(1, 2))
    assert calls == 3 and torch.equal(best, tried[score.argmax()])
    first = seen[0][(-((seen[0] - 0.4) ** 2)).sum(dim=(1, 2)).topk(3).indices]  # half of 6 elites are kept
    assert all(any(torch.equal(e, a) for a in seen[1]) for e in first)


def test_random_shooting_beats_its_starting_plan_and_stays_in_bounds() -> None:
    target = torch.full((4, 2), 0.7)
    cfg = PlannerConfig(method="random_shooting", horizon=4, samples=2000, elites=10)
    start = torch.zeros(4, 2)
    best = plan(quadratic(target), start, cfg, torch.Generator().manual_seed(0))
    objective = quadratic(target)
    assert objective(best[None]) > objective(start[None])
    assert best.abs().max() <= 1


def test_bad_planner_inputs_fail_before_planning() -> None:
    with pytest.raises(ConfigError, match="horizon must be >= 1, got 0"):
        PlannerConfig(horizon=0)
    with pytest.raises(ConfigError, match="method must be one of"):
        PlannerConfig(method="gradient")
    with pytest.raises(PlanningError, match="non-finite"):
        plan(lambda a: torch.full((a.shape[0],), float("nan")), torch.zeros(15, 2), PlannerConfig(),
             torch.Generator())
    with pytest.raises(PlanningError, match="one value per sequence"):
        plan(lambda a: torch.zeros(3), torch.zeros(15, 2), PlannerConfig(), torch.Generator())


def test_an_mlp_fits_a_linear_system_to_float32_precision() -> None:
    g = torch.Generator().manual_seed(0)
    a_matrix, b_matrix = torch.randn(4, 4, generator=g) * 0.3, torch.randn(4, 2, generator=g)
    states, actions = torch.randn(500, 4, generator=g), torch.rand(500, 2, generator=g) * 2 - 1
    next_states = states @ a_matrix.T + actions @ b_matrix.T
    model = build(4, 2, WorldModelConfig(kind="mlp", train_steps=50))
    fit(model, {"states": states, "actions": actions, "next_states": next_states}, g)
    new_s, new_a = torch.randn(100, 4, generator=g), torch.rand(100, 2, generator=g) * 2 - 1
    predicted, _ = model.predict(new_s[None], new_a[None])
    error = (predicted[0] - (new_s @ a_matrix.T + new_a @ b_matrix.T)).abs().max().item()
    assert error < 2e-5, error  # next states are O(1): float32 rounding of the normalization, ~1e-6


def test_ensemble_disagreement_is_larger_off_the_training_data_than_on_it() -> None:
    g = torch.Generator().manual_seed(0)
    states = torch.rand(400, 1, generator=g) * 2 - 1  # training states in [-1, 1]
    actions = torch.zeros(400, 1)
    data = {"states": states, "actions": actions, "next_states": states + torch.sin(3 * states)}
    model = build(1, 1, WorldModelConfig(members=5, hidden=[32, 32], train_steps=400))
    fit(model, data, g)
    on = disagreement(model, torch.linspace(-0.9, 0.9, 20)[:, None], torch.zeros(20, 1)).mean()
    off = disagreement(model, torch.linspace(3.0, 4.0, 20)[:, None], torch.zeros(20, 1)).mean()
    assert off > 5 * on, (on, off)


def test_beta_nll_gives_the_mean_the_squared_errors_gradient_at_beta_one() -> None:
    y = torch.tensor([0.0, 0.0, 3.0])
    logvar = torch.tensor([-2.0, 0.0, 2.0])  # the hard sample (y = 3) was given a large variance
    grads = {}
    for beta in (0.0, 0.5, 1.0):
        mean = torch.zeros(3, requires_grad=True)
        beta_nll(mean, logvar, y, beta).backward()
        grads[beta] = mean.grad
    mse_grad = 2 * (torch.zeros(3) - y) / 3
    torch.testing.assert_close(grads[1.0], mse_grad)
    torch.testing.assert_close(grads[0.0], mse_grad * (-logvar).exp())  # plain NLL: scaled by 1 / variance
    assert grads[0.0][2].abs() < grads[0.5][2].abs() < grads[1.0][2].abs()  # beta restores the pull
    torch.testing.assert_close(beta_nll(y, logvar, y, 0.0), logvar.mean())
    with pytest.raises(ConfigError, match="nll_beta"):
        WorldModelConfig(nll_beta=2.0)


def transitions(env_id: str, backend: str, steps: int = 60) -> tuple[list, object]:
    """(next state, action, reward, success) of random steps, and the env's task."""
    env = gym.make(env_id, backend=backend, obs_mode="state")
    env.reset(seed=1)
    env.action_space.seed(1)
    rows = []
    for _ in range(steps):
        action = env.action_space.sample()
        obs, reward, terminated, truncated, info = env.step(action)
        rows.append((obs, action, reward, info["is_success"]))
        if terminated or truncated:
            env.reset(seed=len(rows))
    task = env.unwrapped.task
    env.close()
    return rows, task


@pytest.mark.parametrize("env_id", [REACH, PUSH_CUBE])
@pytest.mark.parametrize("backend", BACKENDS)
def test_batched_task_reward_equals_the_envs_reward_on_real_transitions(env_id: str, backend: str) -> None:
    rows, task = transitions(env_id, backend)
    states = np.stack([r[0] for r in rows])
    actions = np.stack([r[1] for r in rows])
    expected = np.array([r[2] for r in rows])
    np.testing.assert_allclose(task.batch_reward(states, actions), expected, atol=1e-5)
    torch_reward = task.batch_reward(torch.from_numpy(states), torch.from_numpy(actions))
    np.testing.assert_allclose(torch_reward.numpy(), expected, atol=1e-5)
    np.testing.assert_array_equal(task.batch_success(states), [r[3] for r in rows])


def test_a_task_at_the_goal_counts_as_success_in_the_batched_functions() -> None:
    env = gym.make(REACH)
    obs, _ = env.reset(seed=0)
    at_goal = obs.copy()
    at_goal[14:17] = 0.005  # target - TCP: 8.7 mm
    task = env.unwrapped.task
    assert task.batch_success(np.stack([obs, at_goal])).tolist() == [False, True]
    env.close()


def test_planners_take_pushcubes_shaped_reward_which_prefers_the_pusher_behind_the_cube() -> None:
    env = gym.make(PUSH_CUBE)
    env.reset(seed=0)
    task = env.unwrapped.task
    assert task_reward(env) == task.batch_planning_reward  # a shaped reward, where a task has one
    env.close()
    env = gym.make(REACH)
    assert task_reward(env) == env.unwrapped.task.batch_reward
    env.close()

    def state(pusher_xy: tuple[float, float]) -> np.ndarray:  # cube at the origin, goal 0.1 m along +x
        s = np.zeros(14, np.float32)
        s[0:2], s[8:10] = pusher_xy, (0.1, 0.0)
        s[10:12], s[12:14] = -np.asarray(pusher_xy), (0.1, 0.0)
        return s

    behind, in_front = state((-0.05, 0.0)), state((0.05, 0.0))  # as far from the cube, opposite sides
    states, actions = np.stack([behind, in_front]), np.zeros((2, 2), np.float32)
    shaped = task.batch_planning_reward(states, actions)
    assert shaped[0] > shaped[1] + 0.09  # 10 cm closer to the pre-push point
    np.testing.assert_allclose(task.batch_reward(states, actions)[0], task.batch_reward(states, actions)[1])
    as_torch = task.batch_planning_reward(torch.from_numpy(states), torch.from_numpy(actions))
    np.testing.assert_allclose(as_torch.numpy(), shaped, atol=1e-6)


class FixedPlan:
    """An objective builder whose best sequence is a known plan: it records the starting means."""

    def __init__(self, target: torch.Tensor) -> None:
        self.target, self.calls = target, 0

    def __call__(self, state: object):
        self.calls += 1
        return quadratic(self.target)


def test_mpc_executes_only_the_first_action_and_warm_starts_from_the_shifted_plan() -> None:
    target = torch.linspace(-0.8, 0.8, 6)[:, None].repeat(1, 2)
    mpc = MPC(FixedPlan(target), PlannerConfig("cem", horizon=6, samples=300, iterations=20, elites=30), 2)
    action = mpc.act(np.zeros(3))
    np.testing.assert_allclose(action, mpc.plan[0].numpy())
    assert torch.allclose(mpc.plan, target, atol=0.05)
    assert torch.equal(mpc.mean[:-1], mpc.plan[1:]) and torch.equal(mpc.mean[-1], torch.zeros(2))
    mpc.reset()
    assert torch.equal(mpc.mean, torch.zeros(6, 2))


class Actions(Callback):
    """The actions the env received."""

    def __init__(self) -> None:
        self.actions = []

    def on_step(self, step) -> None:
        self.actions.append(np.asarray(step.action).copy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_simulator_planner_plans_without_disturbing_the_episode(backend: str) -> None:
    cfg = PlannerConfig(horizon=4, samples=8, iterations=2, elites=2)
    env = gym.make(REACH, backend=backend, horizon=6)
    record = Actions()
    planned = rollout(env, SimulatorPlanner(env, cfg), seed=5, callbacks=[record])
    replay = gym.make(REACH, backend=backend, horizon=6)
    replay.reset(seed=5)
    for a in record.actions:  # the same actions without any planning in between: the same episode
        obs, reward, *_ = replay.step(a)
    assert planned.length == len(record.actions)
    np.testing.assert_allclose(reward, env.unwrapped.task.batch_reward(obs, record.actions[-1]), atol=1e-5)
    env.close(), replay.close()


def test_the_simulator_planner_solves_reach() -> None:
    env = gym.make(REACH)
    cfg = PlannerConfig(horizon=5, samples=24, iterations=2, elites=4)
    assert rollout(env, SimulatorPlanner(env, cfg), seed=100_000).success
    env.close()


def test_planning_from_a_snapshot_of_another_task_is_refused() -> None:
    reach, push = gym.make(REACH), gym.make(PUSH_CUBE)
    reach.reset(seed=0), push.reset(seed=0)
    with pytest.raises(SnapshotError, match="cannot plan from this snapshot"):
        simulator_objective(reach, push.unwrapped.get_state())
    reach.close(), push.close()


def test_a_model_of_another_state_size_and_a_nan_reward_are_refused_before_planning() -> None:
    env = gym.make(REACH)
    model = build(14, 2, WorldModelConfig())  # PushCube's sizes
    with pytest.raises(ConfigError, match="states of size 14 .* the env's are 17"):
        check_model_fits(model, env)
    reach_model = build(17, 3, WorldModelConfig())
    obs, _ = env.reset(seed=0)
    with pytest.raises(PlanningError, match="finite rewards"):
        model_objective(reach_model, obs, lambda s, a: s.sum(-1) * float("nan"))
    with pytest.raises(ConfigError, match="learn_reward=true"):
        model_objective(reach_model, obs, None)
    env.close()


TINY = {"total_steps": 200, "explore_steps": 100, "fit_every": 100, "eval_every": 100, "eval_episodes": 1,
        "planner": {"horizon": 5, "samples": 32, "iterations": 2, "elites": 4},
        "world_model": {"hidden": [16], "train_steps": 20}}


def test_mpc_trains_checkpoints_reloads_and_resumes(tmp_path) -> None:
    source = TrainingSource(REACH, {"horizon": 50}, progress=False, run_dir=tmp_path)
    agent = find_method("mpc").fit(make_config("mpc", TINY), source)
    steps, episodes = agent.meta.extra["env_steps"], agent.meta.extra["episodes"]
    assert steps >= 200 and agent.meta.train_seeds == [(0, episodes)]
    for name in ("best.pt", "last.pt", "learning_curve.json", "learning_curve.png"):
        assert (tmp_path / name).is_file(), name
    first_curve = json.loads((tmp_path / "learning_curve.json").read_text())
    agent.save(tmp_path / "checkpoint.pt")
    loaded = load_agent(tmp_path / "checkpoint.pt")
    obs, _ = envs.make(REACH).reset(seed=100_000)
    agent.reset(), loaded.reset()
    np.testing.assert_array_equal(agent.act(obs), loaded.act(obs))  # same model, same planner seed
    more = TrainingSource(REACH, {"horizon": 50}, progress=False, run_dir=tmp_path, resume=True)
    resumed = find_method("mpc").fit(make_config("mpc", {**TINY, "total_steps": steps + 100}), more)
    extra = resumed.meta.extra
    assert extra["env_steps"] >= steps + 100 and extra["transitions"] == extra["env_steps"]
    assert extra["episodes"] > episodes and resumed.meta.train_seeds == [(0, extra["episodes"])]
    curve = json.loads((tmp_path / "learning_curve.json").read_text())
    assert curve[-1]["step"] == extra["env_steps"] and curve[:len(first_curve)] == first_curve
    assert len(curve) > len(first_curve)


def test_mpc_config_refuses_bad_values_and_a_task_without_a_batched_reward() -> None:
    with pytest.raises(ConfigError, match="kind must be one of"):
        make_config("mpc", {"world_model": {"kind": "transformer"}})
    with pytest.raises(ConfigError, match="explore_steps"):
        make_config("mpc", {"total_steps": 10, "explore_steps": 20})
    source = TrainingSource("roboloop/PickPlace-v0", {}, progress=False)
    with pytest.raises(ConfigError, match="learn_reward=true"):
        find_method("mpc").fit(make_config("mpc", TINY), source)


def test_a_learned_reward_head_plans_where_the_task_has_no_batched_reward() -> None:
    options = {**TINY, "total_steps": 100, "world_model": {**TINY["world_model"], "learn_reward": True}}
    source = TrainingSource("roboloop/PickPlace-v0", {"horizon": 50}, progress=False)
    agent = find_method("mpc").fit(make_config("mpc", options), source)
    assert agent.reward_fn is None and agent.model.out_dim == agent.model.state_dim + 1
    obs, _ = envs.make("roboloop/PickPlace-v0").reset(seed=100_000)
    assert agent.act(obs).shape == (4,)


def compose_train(*overrides: str):
    """The train script's config as Hydra composes it."""
    from hydra import compose, initialize_config_dir

    from tests.conftest import ROOT

    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return compose("train", overrides=list(overrides))


@pytest.mark.parametrize("world_model", [None, "ensemble", "mlp"])
def test_the_hydra_configs_state_the_mpc_defaults(world_model: str | None) -> None:
    from omegaconf import OmegaConf

    from world_models.agent import MPCConfig

    cfg = compose_train("agent=mpc", "env=reach", *([f"world_model={world_model}"] if world_model else []))
    values = OmegaConf.to_container(cfg.agent)
    assert values.pop("name") == "mpc"
    model = WorldModelConfig(kind="mlp", members=1) if world_model == "mlp" else WorldModelConfig()
    expected = MPCConfig(world_model=model)
    assert make_config("mpc", values) == expected


@pytest.mark.slow
def test_mpc_trains_and_evaluates_through_the_train_script(tmp_path) -> None:
    from tests.test_scripts import ok, run

    out = ok(run("train.py", "agent=mpc", "world_model=mlp", "env=reach", "env.kwargs.horizon=30",
                 "agent.total_steps=60", "agent.explore_steps=30", "agent.eval_every=30",
                 "agent.eval_episodes=1", "agent.planner.samples=16", "agent.planner.horizon=4",
                 "agent.planner.elites=4", "agent.world_model.train_steps=10", "eval.episodes=1",
                 "eval.videos=0", f"hydra.run.dir={tmp_path}"))
    assert "mpc on roboloop/Reach-v0" in out.stdout
    for name in ("checkpoint.pt", "best.pt", "last.pt", "metrics.json", "learning_curve.png", "tb"):
        assert (tmp_path / name).exists(), name


def test_the_planning_benchmark_measures_model_and_simulator_plans() -> None:
    from benchmarks.planning_speed import model_case, simulator_case, to_markdown

    rows = [model_case("mppi", 1, [16], repeats=1), simulator_case(repeats=1)]
    assert rows[0]["members"] == 5 and rows[0]["samples"] == 500 and rows[0]["horizon"] == 15
    assert all(r["plans_per_s"] > 0 for r in rows)
    table = to_markdown({"rows": rows, "machine": "test", "load_average_at_end": [0.0], "repeats": 1})
    assert "| mppi | 1 | [16] | all | 5 x 500 x 15 |" in table and "simulator (cem)" in table


def test_one_member_per_sequence_scores_each_sequence_with_its_member() -> None:
    g = torch.Generator().manual_seed(0)
    model = build(3, 2, WorldModelConfig(members=5, hidden=[8], propagation="one"))
    for p in model.parameters():  # distinct members
        p.data.normal_(0, 0.3, generator=g)
    state, actions = np.array([0.1, -0.2, 0.3], np.float32), torch.rand(7, 4, 2, generator=g) * 2 - 1
    reward = lambda s, a: -(s * s).sum(-1)  # noqa: E731
    returns = model_objective(model, state, reward)(actions)
    assert returns.shape == (7,)
    for i in range(7):  # 7 sequences, 5 members: the padding wraps around
        s, total = torch.as_tensor(state)[None, None].expand(5, 1, 3), 0.0
        for t in range(4):
            s, _ = model.predict(s, actions[i, t].expand(5, 1, 2))
            total += reward(s, None)[i % 5, 0]
        assert torch.isclose(returns[i], total, atol=1e-5), i

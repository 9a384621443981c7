"""Diffusion policy: it learns, samples both modes, executes chunks, exports, and refuses bad input."""

import numpy as np
import pytest
import torch

import envs as roboloop_envs
from agents import TrainingSource, find_method, load_agent, make_config
from agents.diffusion.agent import DiffusionAgent
from agents.diffusion.config import DiffusionConfig
from agents.diffusion.execution import AsyncChunks, ChunkQueue, TemporalEnsemble
from agents.diffusion.model import DiffusionModel
from agents.minimize import minimize
from dataset import DemoDataset
from envs import ConfigError
from loop import evaluate
from perception.identity import ObservationKeyError
from tests.conftest import collect


def _model(cfg: DiffusionConfig, obs_dim: int = 1, action_dim: int = 1) -> DiffusionModel:
    model = DiffusionModel({"state": (obs_dim,)}, {"state": "float32"}, cfg, action_dim)
    model.fit_normalizers({"state": np.zeros((2, obs_dim), np.float32)},
                          np.array([[-1.0] * action_dim, [1.0] * action_dim], np.float32))
    return model


def _train(model: DiffusionModel, obs: torch.Tensor, actions: torch.Tensor, steps: int,
           batch: int) -> list[float]:
    gen, losses = torch.Generator().manual_seed(0), []

    def loss_at(step):
        idx = torch.randint(len(obs), (batch,), generator=gen)
        is_pad = torch.zeros(batch, actions.shape[1], dtype=torch.bool)
        loss = model.loss({"state": obs[idx]}, actions[idx], is_pad, gen)
        losses.append(loss.item())
        return loss

    model.train()
    minimize(model.parameters(), loss_at, steps=steps, lr=3e-3, weight_decay=0.0, log=lambda *a: None,
             progress=False, desc="test")
    return losses


@pytest.mark.parametrize("objective, sampler", [("ddpm", "ddim"), ("flow", "euler")])
def test_a_tiny_model_samples_both_modes_of_a_two_mode_dataset(objective, sampler):
    torch.manual_seed(0)
    cfg = DiffusionConfig(obs_horizon=1, action_horizon=4, action_steps=1, down_dims=[32],
                          objective=objective, sampler=sampler, inference_steps=10)
    model = _model(cfg)
    signs = torch.where(torch.rand(512) < 0.5, -1.0, 1.0)
    actions = (0.6 * signs)[:, None, None].expand(512, 4, 1).contiguous()  # every chunk all +0.6 or all -0.6
    _train(model, torch.zeros(512, 1, 1), actions, steps=400, batch=64)
    model.eval()
    with torch.inference_mode():
        chunks = model.sample(torch.zeros(300, model.cond_dim), generator=torch.Generator().manual_seed(1))
    first = chunks[:, 0, 0]
    assert (first > 0.4).float().mean() > 0.25 and (first < -0.4).float().mean() > 0.25  # both modes
    assert (first.abs() < 0.3).float().mean() < 0.1  # and not their average


def test_the_network_overfits_one_batch():
    torch.manual_seed(0)
    cfg = DiffusionConfig(obs_horizon=2, action_horizon=8, action_steps=4, down_dims=[32, 64])
    model = _model(cfg, obs_dim=3, action_dim=2)
    obs, actions = torch.randn(8, 2, 3), torch.rand(8, 8, 2) * 2 - 1
    losses = _train(model, obs, actions, steps=300, batch=8)
    assert np.mean(losses[-20:]) < 0.2 * np.mean(losses[:20])


def test_the_queue_executes_ta_actions_then_replans():
    calls = []

    def predict(history):
        calls.append(len(calls))
        return np.arange(16, dtype=np.float32)[:, None] + 100 * len(calls)

    queue = ChunkQueue(predict, action_steps=3)
    got = [float(queue.act([{}])[0]) for _ in range(7)]
    assert got == [100, 101, 102, 200, 201, 202, 300] and len(calls) == 3
    queue.reset()
    assert float(queue.act([{}])[0]) == 400  # reset drops what was queued


def test_temporal_ensembling_averages_every_prediction_for_a_step():
    chunks = iter([np.full((3, 1), 0.0), np.full((3, 1), 1.0), np.full((3, 1), 2.0), np.full((3, 1), 3.0)])
    ens = TemporalEnsemble(lambda h: next(chunks), decay=0.0)
    # at most Tp = 3 chunks overlap
    assert [float(ens.act([{}])[0]) for _ in range(4)] == [0.0, 0.5, 1.0, 2.0]


def test_async_chunks_start_early_and_skip_the_steps_already_taken():
    seen = []

    def predict(history):
        seen.append(history[-1]["t"])
        return np.arange(8, dtype=np.float32)[:, None] + 100 * history[-1]["t"]  # chunk from step t: t..t+7

    run = AsyncChunks(predict, action_steps=4, horizon=8, lead=2, control_period=0.05)
    actions = [float(run.act([{"t": t}])[0]) for t in range(10)]
    run.close()
    # chunk 1 from step 0 runs steps 0-3; chunk 2 starts at step 2 (2 left) and skips 2: its entry for step 4
    assert seen == [0, 2, 6]
    assert actions == [0, 1, 2, 3, 202, 203, 204, 205, 602, 603]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    data = DemoDataset(collect(tmp_path_factory.mktemp("diffusion") / "demos", 2))
    cfg = make_config("diffusion", {"steps": 20, "batch_size": 8, "down_dims": [16, 32], "action_horizon": 8,
                                    "action_steps": 4})
    return find_method("diffusion").fit(cfg, TrainingSource.from_dataset(data, progress=False)), data


def test_the_agent_trains_acts_and_reloads_to_the_same_actions(trained, tmp_path):
    agent, data = trained
    obs = data.episode(0).observations["state"][:6]
    again = load_agent(agent.save(tmp_path / "diffusion.pt"))
    for a in (agent, again):
        a.gen.manual_seed(7)
        a.reset()
    first = [agent.act(o) for o in obs]
    second = [again.act(o) for o in obs]
    np.testing.assert_array_equal(np.stack(first), np.stack(second))
    assert first[0].shape == (2,) and first[0].dtype == np.float32 and np.abs(first).max() <= 1.0
    assert again.meta.method == "diffusion" and again.meta.extra["fps"] == data.fps


def test_onnx_runtime_and_torch_give_the_same_actions(trained):
    pytest.importorskip("onnxruntime")
    agent, data = trained
    from agents.diffusion.agent import DiffusionAgent
    onnx = DiffusionAgent(agent.model, make_config("diffusion", {**vars(agent.config), "backend": "onnx"}),
                          agent.meta)
    obs = data.episode(0).observations["state"][:6]
    for a in (agent, onnx):
        a.gen.manual_seed(3)
        a.reset()
    np.testing.assert_allclose(np.stack([agent.act(o) for o in obs]), np.stack([onnx.act(o) for o in obs]),
                               atol=1e-4)


def test_the_agent_runs_in_the_loop(trained):
    agent, _ = trained
    env = roboloop_envs.make("roboloop/PushCube-v0", privileged_state=True, horizon=20)
    summary = evaluate(env, agent, [100_000], progress=None)
    assert summary.episodes == 1 and summary.mean_length == 20


def test_bad_observations_get_errors_that_name_what_was_expected(trained):
    agent, _ = trained
    agent.reset()
    with pytest.raises(ObservationKeyError, match=r"trained on observation keys \['state'\]"):
        agent.act({"top_rgb": np.zeros((8, 8, 3), np.uint8)})
    with pytest.raises(ConfigError, match="has shape"):
        agent.act(np.zeros(3, np.float32))
    shape = tuple(agent.model.frame_shapes["state"])
    with pytest.raises(ValueError, match="non-finite"):
        agent.act(np.full(shape, np.nan, np.float32))


def test_a_chunk_longer_than_the_episode_and_bad_configs_are_refused(trained, tmp_path):
    _, data = trained
    source = TrainingSource.from_dataset(data, progress=False, env_factory=lambda **kw: roboloop_envs.make(
        "roboloop/PushCube-v0", **{**kw, "horizon": 8}))
    with pytest.raises(ConfigError, match="longer than"):
        find_method("diffusion").fit(make_config("diffusion", {"action_horizon": 16, "steps": 1}), source)
    with pytest.raises(ConfigError, match="valid samplers"):
        make_config("diffusion", {"objective": "flow", "sampler": "ddim"})
    with pytest.raises(ConfigError, match="multiple of 4"):
        make_config("diffusion", {"action_horizon": 10})
    with pytest.raises(ConfigError, match="action_steps"):
        make_config("diffusion", {"action_steps": 20})


def test_one_trained_policy_samples_with_any_step_count(trained):
    from dataclasses import replace

    from agents.diffusion.agent import DiffusionAgent
    agent, data = trained
    calls = []
    for steps in (2, 7):
        fast = DiffusionAgent(agent.model, replace(agent.config, inference_steps=steps), agent.meta)
        inner = fast.denoise
        fast.denoise = lambda x, t, c, inner=inner, n=steps: calls.append(n) or inner(x, t, c)
        fast.act(data.episode(0).observations["state"][0])
    assert calls == [2, 2, 7, 7, 7, 7, 7, 7, 7]
    with pytest.raises(ConfigError, match="objective"):
        DiffusionAgent(agent.model, replace(agent.config, objective="flow", sampler="euler"), agent.meta)


def test_images_and_proprio_train_end_to_end_and_act(tmp_path):
    data = DemoDataset(collect(tmp_path / "rgb", 1, obs_mode="rgb+proprio", cameras="top", image_size=32))
    cfg = make_config("diffusion", {"obs_keys": ["top_rgb", "proprio"], "steps": 3, "batch_size": 4,
                                    "down_dims": [16, 32], "action_horizon": 8, "action_steps": 4,
                                    "image_channels": 8, "image_keypoints": 4, "crop": 2})
    agent = find_method("diffusion").fit(cfg, TrainingSource.from_dataset(data, progress=False))
    frame = {k: v[0] for k, v in data.episode(0).observations.items()}
    action = agent.act(frame)
    assert action.shape == (2,) and np.isfinite(action).all()
    assert agent.model.cond_dim == 2 * (agent.model.encoders["top_rgb"].out_dim + frame["proprio"].size)


def test_sampling_accepts_a_denoiser_without_a_truth_value():
    class Compiled:  # torch.compile's wrapper raises on len() and so on bool()
        def __init__(self, net):
            self.net = net

        def __len__(self):
            raise TypeError("no len()")

        def __call__(self, x, t, c):
            return self.net(x, t, c)

    model = _model(DiffusionConfig(obs_horizon=1, action_horizon=4, action_steps=1, down_dims=[16]))
    with torch.inference_mode():
        chunk = model.sample(torch.zeros(2, model.cond_dim), Compiled(model.denoiser), torch.Generator())
    assert chunk.shape == (2, 4, 1)


def test_classifier_free_guidance_sharpens_the_mode_the_goal_asks_for():
    """Goal +1 -> +0.6 chunks 75% of the time (-0.6 otherwise), and the reverse for goal -1.

    Conditioning alone reproduces the 75/25 split; guidance (w > 1) pushes it towards the goal's
    mode; without the goal (the learned null) both modes come back in equal shares.
    """
    torch.manual_seed(0)
    cfg = DiffusionConfig(obs_horizon=1, action_horizon=4, action_steps=1, down_dims=[32], goal_keys=["goal"],
                          goal_dropout=0.3, inference_steps=10)
    model = DiffusionModel({"state": (1,), "goal": (1,)}, {"state": "float32", "goal": "float32"}, cfg, 1)
    n = 1024
    goal = torch.where(torch.rand(n) < 0.5, -1.0, 1.0)
    signs = torch.where(torch.rand(n) < 0.75, goal, -goal)
    actions = (0.6 * signs)[:, None, None].expand(n, 4, 1).contiguous()
    model.fit_normalizers({"state": np.zeros((2, 1), np.float32), "goal": goal[:, None].numpy()},
                          np.array([[-1.0], [1.0]], np.float32))
    gen = torch.Generator().manual_seed(0)

    def loss_at(step):
        idx = torch.randint(n, (64,), generator=gen)
        obs = {"state": torch.zeros(64, 1, 1), "goal": goal[idx, None, None]}
        return model.loss(obs, actions[idx], torch.zeros(64, 4, dtype=torch.bool), gen)

    model.train()
    minimize(model.parameters(), loss_at, steps=600, lr=3e-3, weight_decay=0.0, log=lambda *a: None,
             progress=False, desc="test")
    model.eval()
    obs = {"state": torch.zeros(400, 1, 1), "goal": torch.ones(400, 1, 1)}

    def share_positive(scale: float, no_goal: bool = False) -> float:
        with torch.inference_mode():
            cond = model.encode(obs, no_goal=no_goal)
            sampling = DiffusionConfig(**{**cfg.__dict__, "guidance_scale": scale})
            chunks = model.sample(cond, generator=torch.Generator().manual_seed(1), sampling=sampling,
                                  unconditional=model.encode(obs, no_goal=True))
        return float((chunks[:, 0, 0] > 0).float().mean())

    conditional, guided, without = share_positive(1.0), share_positive(4.0), share_positive(1.0, no_goal=True)
    assert 0.6 < conditional < 0.9, conditional
    assert guided > conditional + 0.08 and guided > 0.9, (guided, conditional)
    assert 0.3 < without < 0.7, without


def test_guidance_needs_a_goal_and_a_trained_null():
    with pytest.raises(ConfigError, match="goal_keys"):
        DiffusionConfig(guidance_scale=3.0)
    with pytest.raises(ConfigError, match="goal_dropout"):
        DiffusionConfig(goal_keys=["goal"], goal_dropout=0.0, guidance_scale=3.0)
    with pytest.raises(ConfigError, match="overlap"):
        DiffusionConfig(obs_keys=["state", "goal"], goal_keys=["goal"])


def test_a_checkpoint_saved_before_goals_existed_still_loads(trained):
    agent, data = trained
    state = agent.state()
    state["model"] = {k: v for k, v in state["model"].items() if k != "null_goal"}
    again = DiffusionAgent.from_state(agent.config, agent.meta, state)
    for name, p in agent.model.state_dict().items():
        torch.testing.assert_close(again.model.state_dict()[name], p)

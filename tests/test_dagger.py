"""DAgger on the shared loop: exact label counts, the budget, beta = 1 is the expert, clear errors."""

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from agents import TrainingSource, find_method, load_agent, make_config
from dataset import DemoDataset
from dataset.errors import DatasetKeyError
from envs import ConfigError
from tests.conftest import PUSH_CUBE, collect

TINY_BC = {"steps": 200, "hidden_sizes": [32, 32]}


@pytest.fixture(scope="module")
def demos(tmp_path_factory) -> Path:
    return collect(tmp_path_factory.mktemp("dagger") / "demos", 3, noise=0.0)


def run_dagger(demos: Path, run_dir: Path, **options):
    source = TrainingSource.from_dataset(DemoDataset(demos), progress=False, run_dir=run_dir)
    config = make_config("dagger", {"rounds": 2, "episodes_per_round": 2, "bc": TINY_BC, **options})
    return find_method("dagger").fit(config, source)


def test_the_aggregate_grows_by_exactly_the_labels_asked_and_never_past_the_budget(demos, tmp_path) -> None:
    agent = run_dagger(demos, tmp_path, label_budget=200, rounds=3, beta=0.0)
    labels = agent.meta.extra["labels"]
    aggregate = DemoDataset(tmp_path / "aggregate")
    assert 0 < labels <= 200
    assert aggregate.num_frames == DemoDataset(demos).num_frames + labels
    rounds = agent.meta.extra["rounds"]
    assert [r["round"] for r in rounds] == list(range(1, len(rounds) + 1))
    assert rounds[-1]["labels"] == labels
    last = load_agent(tmp_path / "rounds" / f"round_{len(rounds)}.pt")  # the final fit saw every label
    assert last.meta.extra["labels"] == labels and last.meta.extra["frames"] == aggregate.num_frames
    assert agent.meta.training == "interactive"
    obs = gym.make(PUSH_CUBE).reset(seed=100_000)[0]
    np.testing.assert_array_equal(load_agent(agent.save(tmp_path / "a.pt")).act(obs), agent.act(obs))


def test_beta_one_executes_the_expert_so_stored_labels_replay_the_episode(demos, tmp_path) -> None:
    run_dagger(demos, tmp_path, beta=1.0, beta_decay=1.0, rounds=1)
    aggregate = DemoDataset(tmp_path / "aggregate")
    rolled = [i for i, m in enumerate(aggregate.episodes) if m.extra.get("dagger_round") == 1]
    assert rolled and all(aggregate.episodes[i].extra["beta"] == 1.0 for i in rolled)
    env = gym.make(PUSH_CUBE)
    for i in rolled:
        episode = aggregate.episode(i)
        obs, _ = env.reset(seed=episode.seed)
        for t, action in enumerate(episode.actions):  # the labels were the executed actions
            np.testing.assert_array_equal(obs, episode.observations["state"][t])
            obs, *_ = env.step(action)


def test_bad_setups_fail_before_any_rollout(demos, tmp_path) -> None:
    with pytest.raises(ConfigError, match="smaller than one episode"):
        run_dagger(demos, tmp_path / "a", label_budget=20)
    with pytest.raises(ConfigError, match="beta"):
        make_config("dagger", {"beta": 2.0})
    with pytest.raises(ConfigError, match="hiden_sizes|unexpected"):
        make_config("dagger", {"bc": {"hiden_sizes": [8]}})
    pixels = collect(tmp_path / "rgb", 1, obs_mode="rgb")
    source = TrainingSource(PUSH_CUBE, {"obs_mode": "rgb"}, dataset=DemoDataset(pixels), progress=False)
    config = make_config("dagger", {"bc": {**TINY_BC, "obs_keys": ["proprio"]}})
    with pytest.raises(ConfigError, match="expert cannot act.*privileged_state=True"):
        find_method("dagger").fit(config, source)


def test_hg_dagger_stores_only_the_steps_where_the_supervisor_took_over(demos, tmp_path) -> None:
    agent = run_dagger(demos, tmp_path, mode="hg_dagger", rounds=1, episodes_per_round=3,
                       gate_threshold=0.3, gate_release=0.1)
    labels = agent.meta.extra["labels"]
    aggregate = DemoDataset(tmp_path / "aggregate")
    segments = [m for m in aggregate.episodes if m.extra.get("dagger_round") == 1]
    assert labels > 0 and sum(m.length for m in segments) == labels  # nothing the learner did is stored
    assert all(m.extra["mode"] == "hg_dagger" for m in segments)
    assert (tmp_path / "rounds" / "round_1.pt").is_file()
    partial = [m for m in segments if "segment" in m.extra]
    assert all(m.length < m.extra["segment"]["episode_length"] for m in partial)


def test_hg_dagger_never_passes_the_budget_and_keyboard_needs_the_hg_switch(demos, tmp_path) -> None:
    agent = run_dagger(demos, tmp_path, mode="hg_dagger", rounds=3, label_budget=150, gate_threshold=0.0,
                       gate_release=0.0)  # a supervisor who always takes over spends the budget
    assert agent.meta.extra["labels"] == 150
    with pytest.raises(ConfigError, match="mode=hg_dagger"):
        make_config("dagger", {"expert": "keyboard"})
    source = TrainingSource.from_dataset(DemoDataset(demos), progress=False)
    with pytest.raises(ConfigError, match="interactive terminal"):  # pytest's stdin is not a terminal
        find_method("dagger").fit(make_config("dagger", {"expert": "keyboard", "mode": "hg_dagger"}), source)


def test_a_dataset_of_another_env_and_an_image_bc_on_a_state_dataset_fail_before_work(demos) -> None:
    with pytest.raises(ConfigError, match="recorded in roboloop/PushCube-v0.*Reach-v0"):
        TrainingSource("roboloop/Reach-v0", dataset=DemoDataset(demos))
    source = TrainingSource.from_dataset(DemoDataset(demos), progress=False)
    with pytest.raises(DatasetKeyError, match=r"\['top_rgb'\]; this dataset has \['state'\].*obs_mode=rgb"):
        find_method("bc").fit(make_config("bc", {"obs_keys": ["top_rgb"], "steps": 1}), source)


def test_warm_started_rounds_continue_from_the_last_learner(demos, tmp_path) -> None:
    from agents.bc import BCAgent

    data = DemoDataset(demos)
    source = TrainingSource.from_dataset(data, progress=False)
    first = BCAgent.fit(make_config("bc", {**TINY_BC, "steps": 1}), source)
    again = BCAgent.fit(make_config("bc", {**TINY_BC, "steps": 1, "lr": 1e-9}), source, init=first)
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values(), strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)  # a tiny step away from init
    assert first.model is not again.model

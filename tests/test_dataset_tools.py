"""Dataset tools: merge, split, describe, robomimic-HDF5 and Minari round trips, inspect_dataset.py.

Small synthetic datasets only (a few episodes of a few steps, 16x16 images).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from omegaconf import OmegaConf

import dataset.tools
from dataset import (
    DatasetExistsError,
    DatasetMismatchError,
    DatasetSplitError,
    DatasetWriter,
    DemoDataset,
    DuplicateSeedError,
    Episode,
    assign_episodes,
    describe,
    merge,
    split,
)
from dataset.export import export_minari, export_robomimic, import_minari, import_robomimic
from tests.conftest import ROOT

ENV_ID = "roboloop/PushCube-v0"
ENV_KWARGS = {"obs_mode": "rgb", "horizon": 20}
FPS = 10.0


def episode(seed: int, t: int = 4, success: bool = True, image: bool = True, da: int = 2) -> Episode:
    rng = np.random.default_rng(seed)
    obs = {
        "state": rng.standard_normal((t, 5)).astype(np.float32),
        "count": np.arange(t, dtype=np.int64) + seed,
        "contact": rng.integers(0, 2, (t, 3)).astype(bool),
    }
    if image:
        obs["top_rgb"] = rng.integers(0, 256, (t, 16, 16, 3), dtype=np.uint8)
    return Episode(seed, obs, rng.uniform(-1, 1, (t, da)).astype(np.float32),
                   rng.uniform(0, 1, t).astype(np.float32), success, terminated=success,
                   truncated=not success, extra={"reason": "success" if success else "timeout"})


def make(root: Path, seeds, lengths=None, *, env_id=ENV_ID, env_kwargs=ENV_KWARGS, fps=FPS,
         **kw) -> DemoDataset:
    writer = DatasetWriter(root, env_id=env_id, env_kwargs=env_kwargs, fps=fps)
    for i, seed in enumerate(seeds):
        writer.add_episode(episode(seed, t=(lengths or [4] * len(seeds))[i], success=seed % 2 == 0, **kw))
    return DemoDataset(root)


def assert_same_episode(got: Episode, want: Episode) -> None:
    assert (got.seed, got.success, got.terminated, got.truncated, got.extra) == (
        want.seed, want.success, want.terminated, want.truncated, want.extra)
    assert got.observations.keys() == want.observations.keys()
    for key, arr in want.observations.items():
        assert got.observations[key].dtype == arr.dtype, key
        np.testing.assert_array_equal(got.observations[key], arr)
    for got_arr, want_arr in ((got.actions, want.actions), (got.rewards, want.rewards)):
        assert got_arr.dtype == want_arr.dtype
        np.testing.assert_array_equal(got_arr, want_arr)


def assert_same_dataset(got: DemoDataset, want: DemoDataset) -> None:
    assert (got.env_id, got.env_kwargs, got.fps, got.features) == (
        want.env_id, want.env_kwargs, want.fps, want.features)
    assert [m.to_json_dict() for m in got.episodes] == [m.to_json_dict() for m in want.episodes]
    for i in range(len(want)):
        assert_same_episode(got.episode(i), want.episode(i))


def no_leftovers(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


# --- merge ---------------------------------------------------------------------------------------


def test_merge_keeps_every_episode_and_its_frames(tmp_path: Path) -> None:
    a = make(tmp_path / "a", [1, 2], [3, 5])
    b = make(tmp_path / "b", [7], [4])
    merged = merge([tmp_path / "a", b], tmp_path / "ab")
    assert merged.seeds == [1, 2, 7] and [m.index for m in merged.episodes] == [0, 1, 2]
    assert [m.length for m in merged.episodes] == [3, 5, 4] and merged.num_frames == 12
    sources = [a.episode(0), a.episode(1), b.episode(0)]
    for i, want in enumerate(sources):
        assert_same_episode(merged.episode(i), want)
    assert merged.windows(keys=["count"]).frames["count"].tolist() == [1, 2, 3, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert no_leftovers(tmp_path)


@pytest.mark.parametrize("field, other, words", [
    ("env_id", {"env_id": "roboloop/Reach-v0"}, ["env_id", "roboloop/Reach-v0", ENV_ID]),
    ("env_kwargs", {"env_kwargs": {"obs_mode": "state"}}, ["env_kwargs", "'state'"]),
    ("fps", {"fps": 20.0}, ["fps", "10.0", "20.0"]),
    ("action dim", {"da": 3}, ["features", "action: float32 (2,) vs float32 (3,)"]),
    ("camera", {"image": False}, ["features", "observation.top_rgb only in the first"]),
])
def test_merge_refuses_mismatched_sources_with_a_clear_message(tmp_path, field, other, words) -> None:
    make(tmp_path / "a", [1])
    make(tmp_path / "b", [2], **other)
    with pytest.raises(DatasetMismatchError) as e:
        merge([tmp_path / "a", tmp_path / "b"], tmp_path / "ab")
    for word in [*words, str(tmp_path / "a"), str(tmp_path / "b")]:
        assert word in str(e.value), (field, str(e.value))
    assert not (tmp_path / "ab").exists() and no_leftovers(tmp_path)


def test_merge_refuses_duplicate_seeds_unless_allowed(tmp_path: Path) -> None:
    make(tmp_path / "a", [1, 2], image=False)
    make(tmp_path / "b", [2, 3], image=False)
    with pytest.raises(DuplicateSeedError, match=r"seed 2 in .*a and in .*b.*allow_duplicate_seeds"):
        merge([tmp_path / "a", tmp_path / "b"], tmp_path / "ab")
    assert merge([tmp_path / "a", tmp_path / "b"], tmp_path / "ab",
                 allow_duplicate_seeds=True).seeds == [1, 2, 2, 3]


def test_tools_never_overwrite_and_write_all_or_nothing(tmp_path: Path, monkeypatch) -> None:
    make(tmp_path / "a", [1, 2, 3])
    with pytest.raises(DatasetExistsError, match="not empty"):
        merge([tmp_path / "a"], tmp_path / "a")
    calls = []

    def fail_on_third(self, ep):
        calls.append(ep.seed)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(self, ep)

    real = DatasetWriter.add_episode
    monkeypatch.setattr(dataset.tools.DatasetWriter, "add_episode", fail_on_third)
    with pytest.raises(OSError, match="disk full"):
        merge([tmp_path / "a"], tmp_path / "copy")
    assert not (tmp_path / "copy").exists() and no_leftovers(tmp_path)  # no half-merged dataset
    assert len(DemoDataset(tmp_path / "a")) == 3


# --- split ---------------------------------------------------------------------------------------


def test_split_keeps_episode_boundaries_and_covers_every_episode_once(tmp_path: Path) -> None:
    src = make(tmp_path / "src", range(10, 17), [3, 4, 5, 6, 3, 4, 5])
    targets = {tmp_path / "train": 0.7, tmp_path / "valid": 0.3}
    parts = split(src, targets, seed=1)
    train, valid = parts[str(tmp_path / "train")], parts[str(tmp_path / "valid")]
    assert sorted(train + valid) == list(range(7)) and (len(train), len(valid)) == (5, 2)
    assert assign_episodes(range(7), {"t": 0.7, "v": 0.3}, seed=1) == {"t": train, "v": valid}  # seeded
    for name, indices in parts.items():
        part = DemoDataset(name)
        assert [m.index for m in part.episodes] == list(range(len(indices)))  # re-indexed
        assert part.num_frames == sum(src.episodes[i].length for i in indices)
        for j, i in enumerate(indices):  # whole episodes, in source order, unchanged
            assert part.episodes[j].length == src.episodes[i].length
            assert_same_episode(part.episode(j), src.episode(i))


def test_split_takes_lists_first_and_fractions_share_the_rest(tmp_path: Path) -> None:
    src = make(tmp_path / "src", range(6), image=False)
    parts = split(src, {tmp_path / "test": [5, 0], tmp_path / "train": 1.0}, seed=0)
    assert parts == {str(tmp_path / "test"): [0, 5], str(tmp_path / "train"): [1, 2, 3, 4]}
    assert DemoDataset(tmp_path / "test").seeds == [0, 5]


@pytest.mark.parametrize("parts, words", [
    ({}, "at least one part"),
    ({"a": 0.7, "b": 0.6}, "sum to 1.3"),
    ({"a": [0, 1], "b": [1]}, "episode 1 is listed in part"),
    ({"a": [9]}, "[9] are not in the dataset"),
    ({"a": 0.05, "b": 0.95}, "would get 0 of the 4"),
    ({"a": 0.0}, "must be in (0, 1]"),
    ({"a": "all"}, "expected a fraction"),
    ({"a": []}, "expected a fraction"),
])
def test_bad_splits_fail_clearly_and_write_nothing(tmp_path: Path, parts, words) -> None:
    src = make(tmp_path / "src", range(4), image=False)
    with pytest.raises(DatasetSplitError) as e:
        split(src, {tmp_path / k: v for k, v in parts.items()})
    assert words in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


# --- describe ------------------------------------------------------------------------------------


def test_describe_counts_lengths_seeds_specs_and_discrete_actions(tmp_path: Path) -> None:
    s = describe(make(tmp_path / "a", [4, 5, 6], [2, 3, 7]))
    assert (s["episodes"], s["frames"], s["length"]) == (3, 12, {"min": 2, "mean": 4.0, "max": 7})
    assert s["success"] == {"count": 2, "rate": 2 / 3} and s["seeds"] == [4, 5, 6]
    assert s["observations"]["top_rgb"] == {"dtype": "uint8", "shape": [16, 16, 3], "storage": "video"}
    assert s["action"]["dim"] == 2 and not s["action"]["discrete"] and len(s["action"]["std"]) == 2
    writer = DatasetWriter(tmp_path / "d", env_id="roboloop/CartPole-v0", env_kwargs={}, fps=FPS)
    for seed in range(2):
        writer.add_episode(Episode(seed, {"state": np.zeros((3, 4), np.float32)},
                                   np.array([[0], [1], [1]], np.float32), np.ones(3, np.float32), True))
    action = describe(tmp_path / "d")["action"]
    assert action["discrete"] and action["counts"] == {"0": 2, "1": 4}
    empty = describe(DemoDataset(DatasetWriter(tmp_path / "e", env_id=ENV_ID, env_kwargs={}, fps=FPS).root))
    assert empty["episodes"] == 0 and empty["length"] is None and empty["success"]["rate"] is None


# --- export / import -----------------------------------------------------------------------------


def test_robomimic_hdf5_layout_and_exact_round_trip(tmp_path: Path) -> None:
    src = make(tmp_path / "src", [3, 4, 5, 6], [2, 5, 3, 4])
    path = export_robomimic(src, tmp_path / "demos.hdf5", split={"train": 0.75, "valid": 0.25})
    with h5py.File(path, "r") as f:
        data = f["data"]
        assert json.loads(data.attrs["env_args"]) == {"env_name": ENV_ID, "type": 2, "env_kwargs": ENV_KWARGS}
        assert data.attrs["total"] == 14 and list(data) == ["demo_0", "demo_1", "demo_2", "demo_3"]
        demo = data["demo_1"]
        assert demo.attrs["num_samples"] == 5 and demo.attrs["seed"] == 4
        assert demo["obs/top_rgb"].shape == (5, 16, 16, 3) and demo["actions"].shape == (5, 2)
        assert demo["rewards"].shape == (5,) and demo["dones"][()].tolist() == [0, 0, 0, 0, 1]
        np.testing.assert_array_equal(demo["next_obs/count"][()], [5, 6, 7, 8, 8])
        masks = {k: sorted(v.decode() for v in f["mask"][k][()]) for k in f["mask"]}
    assert sorted(masks["train"] + masks["valid"]) == [f"demo_{i}" for i in range(4)]
    assert len(masks["valid"]) == 1
    assert_same_dataset(import_robomimic(path, tmp_path / "back"), src)
    valid = import_robomimic(path, tmp_path / "valid", mask="valid")
    assert valid.seeds == [src.seeds[int(masks["valid"][0][5:])]]
    with pytest.raises(DatasetExistsError):
        export_robomimic(src, path)


def test_minari_export_opens_in_minari_and_round_trips_exactly(tmp_path: Path, monkeypatch) -> None:
    minari = pytest.importorskip("minari")
    src = make(tmp_path / "src", [3, 4, 5], [2, 5, 3])
    folder = export_minari(src, "roboloop/push-test-v0", root=tmp_path / "minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    mds = minari.load_dataset("roboloop/push-test-v0")
    assert mds.total_episodes == 3 and mds.total_steps == 10
    ep = mds[1]  # Minari keeps T + 1 observations: the last one is repeated
    assert ep.observations["top_rgb"].shape == (6, 16, 16, 3) and ep.actions.shape == (5, 2)
    assert ep.terminations.tolist() == [False] * 4 + [True]
    assert mds.env_spec.id == ENV_ID and mds.env_spec.kwargs["obs_mode"] == "rgb"  # recover_environment
    assert_same_dataset(import_minari(folder, tmp_path / "back"), src)
    assert_same_dataset(import_minari("roboloop/push-test-v0", tmp_path / "back2"), src)


# --- scripts -------------------------------------------------------------------------------------


def test_inspect_script_prints_and_writes_summary_histograms_and_contact_sheet(tmp_path: Path) -> None:
    make(tmp_path / "ds", [0, 1, 2], [3, 6, 4])
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "inspect_dataset.py"),
                           f"dataset={tmp_path / 'ds'}", "sheet_episodes=2", "sheet_frames=3",
                           f"hydra.run.dir={tmp_path / 'run'}"],
                          capture_output=True, text=True, cwd="/", timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for words in ("episodes: 3", "length: min 3, mean 4.3, max 6", "success: 2/3 (67%)", "seeds: 0-2",
                  "observation.top_rgb: uint8 (16, 16, 3) (video)", "action: dim 2"):
        assert words in proc.stdout
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["episodes"] == 3 and summary["seeds"] == [0, 1, 2]
    for name in ("config.yaml", "summary.txt", "actions.png", "frames_top_rgb.png"):
        assert (run / name).stat().st_size > 0, name


def test_dataset_tool_commands(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))  # scripts import `runs` as a sibling
    spec = importlib.util.spec_from_file_location("dataset_tool", ROOT / "scripts" / "dataset_tool.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    make(tmp_path / "a", [0, 1], image=False)
    make(tmp_path / "b", [2, 3], image=False)
    base = OmegaConf.load(ROOT / "configs" / "dataset_tool.yaml")
    base.pop("hydra")

    def run(**kw):
        cfg = OmegaConf.merge(base, kw)
        return tool.COMMANDS[cfg.command](cfg)

    assert run(command="merge", sources=[str(tmp_path / "a"), str(tmp_path / "b")],
               target=str(tmp_path / "ab"))["seeds"] == [0, 1, 2, 3]
    parts = run(command="split", source=str(tmp_path / "ab"), target=str(tmp_path / "parts"),
                parts={"train": 0.5, "valid": [3]})["parts"]
    assert parts == {str(tmp_path / "parts" / "train"): parts[str(tmp_path / "parts" / "train")],
                     str(tmp_path / "parts" / "valid"): [3]}
    assert DemoDataset(tmp_path / "parts" / "valid").seeds == [3]
    with pytest.raises(ValueError, match=r"needs source=\.\.\., target=\.\.\..*missing \['target'\]"):
        run(command="export_robomimic", source=str(tmp_path / "ab"))

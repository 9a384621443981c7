"""Tests for the demonstration dataset format (dataset/): round trip, crash safety, validation,
windows. Synthetic data only; no simulator needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import dataset.atomic
import dataset.writer
from dataset import (
    DatasetExistsError,
    DatasetFormatError,
    DatasetWriter,
    DemoDataset,
    Episode,
    Windows,
    atomic_path,
    atomic_write_text,
    make_windows,
    read_video,
    write_video,
)
from dataset.atomic import is_temp_name
from dataset.layout import data_path, video_path

REPO = Path(__file__).resolve().parents[1]
ENV_ID = "roboloop/PushCube-v0"
ENV_KWARGS = {"image_size": 96, "cameras": ("front",), "control": {"mode": "ee_delta"}}
FPS = 10.0


def make_episode(seed: int, t: int = 6, success: bool = True, da: int = 4) -> Episode:
    rng = np.random.default_rng(seed)
    return Episode(
        seed=seed,
        observations={
            "state": rng.standard_normal((t, 10)).astype(np.float32),
            "rgb": rng.integers(0, 256, (t, 96, 96, 3), dtype=np.uint8),
        },
        actions=rng.uniform(-1, 1, (t, da)).astype(np.float32),
        rewards=rng.uniform(0, 1, t).astype(np.float32),
        success=success,
        terminated=success,
        truncated=not success,
        extra={"reason": "success" if success else "timeout", "n": seed},
    )


def new_writer(root: Path, **kw) -> DatasetWriter:
    args = {"env_id": ENV_ID, "env_kwargs": ENV_KWARGS, "fps": FPS} | kw
    return DatasetWriter(root, **args)


def write_dataset(root: Path, seeds=(11, 22, 33), lengths=(5, 8, 3), success=(True, False, True)):
    w = new_writer(root)
    eps = [make_episode(s, t, ok) for s, t, ok in zip(seeds, lengths, success, strict=True)]
    for ep in eps:
        w.add_episode(ep)
    return w, eps


def assert_episode_equal(got: Episode, want: Episode) -> None:
    assert got.seed == want.seed
    assert set(got.observations) == set(want.observations)
    for k, v in want.observations.items():
        assert got.observations[k].dtype == v.dtype
        np.testing.assert_array_equal(got.observations[k], v)
    assert got.actions.dtype == np.float32 and got.rewards.dtype == np.float32
    np.testing.assert_array_equal(got.actions, want.actions)
    np.testing.assert_array_equal(got.rewards, want.rewards)
    assert (got.success, got.terminated, got.truncated) == (
        want.success, want.terminated, want.truncated
    )
    assert got.extra == want.extra


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and is_temp_name(p.name)]


# ---------------------------------------------------------------- round trip


def test_round_trip_exact(tmp_path: Path) -> None:
    w, eps = write_dataset(tmp_path)
    assert w.num_episodes == 3 and w.seeds == {11, 22, 33}
    ds = DemoDataset(tmp_path)
    assert len(ds) == 3 and ds.num_frames == 16
    assert ds.env_id == ENV_ID and ds.fps == FPS
    assert ds.env_kwargs == json.loads(json.dumps(ENV_KWARGS))
    assert ds.seeds == [11, 22, 33]
    assert [m.index for m in ds.episodes] == [0, 1, 2]
    assert [m.success for m in ds.episodes] == [True, False, True]
    for meta, ep in zip(ds.episodes, eps, strict=True):
        assert meta.length == ep.length
        assert meta.episode_return == pytest.approx(ep.episode_return)
    for i, ep in enumerate(eps):
        assert_episode_equal(ds.episode(i), ep)  # rgb pixels exact through the lossless mp4


def test_files_on_disk_follow_layout(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    info = json.loads((tmp_path / "meta/info.json").read_text())
    assert info["format"] == "roboloop.dataset" and info["version"] == 1
    assert info["video"] == {"codec": "libx264rgb", "pix_fmt": "rgb24", "lossless": True}
    feats = info["features"]
    assert feats["observation.state"] == {"dtype": "float32", "shape": [10], "storage": "parquet"}
    assert feats["observation.rgb"] == {"dtype": "uint8", "shape": [96, 96, 3], "storage": "video"}
    assert feats["action"]["shape"] == [4]
    lines = (tmp_path / "meta/episodes.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert first == {
        "episode_index": 0, "seed": 11, "length": 5, "success": True,
        "return": pytest.approx(first["return"]), "terminated": True, "truncated": False,
        "extra": {"reason": "success", "n": 11},
    }
    assert (tmp_path / "data/chunk-000/episode_000002.parquet").is_file()
    assert (tmp_path / "videos/chunk-000/observation.rgb/episode_000002.mp4").is_file()
    table = pq.read_table(tmp_path / "data/chunk-000/episode_000001.parquet")  # plain pyarrow
    assert table.column_names == [
        "observation.state", "action", "reward", "frame_index", "timestamp", "episode_index",
        "index",
    ]
    assert table.column("frame_index").to_pylist() == list(range(8))
    assert table.column("index").to_pylist() == list(range(5, 13))  # global frame index
    assert table.column("episode_index").to_pylist() == [1] * 8
    np.testing.assert_allclose(table.column("timestamp").to_numpy(), np.arange(8) / FPS, rtol=1e-6)
    assert temp_files(tmp_path) == []


def test_mixed_dtypes_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    t = 4
    obs = {
        "contact": rng.random((t, 3)) > 0.5,  # bool vector
        "step": np.arange(t, dtype=np.int64),  # scalar per step
        "mask": rng.integers(0, 5, (t, 6, 7), dtype=np.uint8),  # 2-D uint8 -> parquet, not video
        "pose": rng.standard_normal((t, 2, 2)),  # float64 matrix
        "images.wrist": rng.integers(0, 256, (t, 9, 11, 3), dtype=np.uint8),  # odd-size video
    }
    ep = Episode(np.int64(7), obs, rng.random((t, 2)), np.zeros(t), np.True_, extra={})
    w = new_writer(tmp_path)
    w.add_episode(ep)
    ds = DemoDataset(tmp_path)
    storage = {k: v["storage"] for k, v in ds.features.items() if k.startswith("observation.")}
    assert storage["observation.mask"] == "parquet"
    assert storage["observation.images.wrist"] == "video"
    got = ds.episode(0)
    assert got.seed == 7 and got.success is True
    for k, v in obs.items():
        assert got.observations[k].dtype == v.dtype and got.observations[k].shape == v.shape
        np.testing.assert_array_equal(got.observations[k], v)
    np.testing.assert_array_equal(got.actions, ep.actions.astype(np.float32))


def test_chunk_paths() -> None:
    root = Path("/r")
    assert data_path(root, 999) == root / "data/chunk-000/episode_000999.parquet"
    assert data_path(root, 1000) == root / "data/chunk-001/episode_001000.parquet"
    assert video_path(root, 1000, "rgb") == (
        root / "videos/chunk-001/observation.rgb/episode_001000.mp4"
    )


def test_load_videos_false_and_keys_skip_decoding(tmp_path: Path, monkeypatch) -> None:
    write_dataset(tmp_path)

    def boom(path):
        raise AssertionError(f"video decoded: {path}")

    monkeypatch.setattr("dataset.reader.read_video", boom)
    ds = DemoDataset(tmp_path, load_videos=False)
    assert set(ds.episode(0).observations) == {"state"}
    win = DemoDataset(tmp_path).windows(keys=["state"])
    assert win.keys == ["state"] and set(win.batch(slice(None)).observations) == {"state"}
    with pytest.raises(KeyError, match="unknown observation key"):
        ds.windows(keys=["depth"])


def test_success_only(tmp_path: Path) -> None:
    write_dataset(tmp_path, success=(True, False, True))
    ds = DemoDataset(tmp_path, success_only=True, load_videos=False)
    assert len(ds) == 2 and ds.seeds == [11, 33]
    assert [m.index for m in ds.episodes] == [0, 2]
    assert ds.num_frames == 5 + 3
    assert ds.episode(1).seed == 33
    win = ds.windows()
    assert sorted(set(win.episode_index.tolist())) == [0, 2]
    assert len(win) == 8


# ---------------------------------------------------------------- crash safety / resume


def test_exception_in_video_write_keeps_dataset_and_resume_appends(tmp_path, monkeypatch) -> None:
    w = new_writer(tmp_path)
    eps = [make_episode(s) for s in (1, 2, 3)]
    w.add_episode(eps[0])
    w.add_episode(eps[1])
    seen_parquet_temp = []

    def failing_encode(path, frames, fps, lossless=True):
        seen_parquet_temp.extend(p for p in temp_files(tmp_path) if p.suffix == ".parquet")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(dataset.writer, "encode_video", failing_encode)
    with pytest.raises(OSError, match="simulated"):
        w.add_episode(eps[2])
    assert seen_parquet_temp, "the parquet temp file should exist when the video write fails"
    assert w.num_episodes == 2
    ds = DemoDataset(tmp_path)
    assert len(ds) == 2
    for i in range(2):
        assert_episode_equal(ds.episode(i), eps[i])

    monkeypatch.undo()
    w2 = new_writer(tmp_path, resume=True)
    assert w2.num_episodes == 2 and w2.seeds == {1, 2}
    assert w2.add_episode(eps[2]) == 2
    ds = DemoDataset(tmp_path)
    assert [m.index for m in ds.episodes] == [0, 1, 2]
    assert_episode_equal(ds.episode(2), eps[2])
    assert temp_files(tmp_path) == []


def test_crash_before_commit_leaves_orphans_that_resume_removes(tmp_path, monkeypatch) -> None:
    w = new_writer(tmp_path)
    eps = [make_episode(s, t) for s, t in ((1, 4), (2, 5), (3, 6))]
    w.add_episode(eps[0])
    w.add_episode(eps[1])
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst).name == "episodes.jsonl":
            raise KeyboardInterrupt("killed before commit (simulated)")
        real_replace(src, dst)

    monkeypatch.setattr(dataset.atomic.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        w.add_episode(eps[2])
    monkeypatch.undo()
    orphan_parquet = data_path(tmp_path, 2)
    orphan_video = video_path(tmp_path, 2, "rgb")
    assert orphan_parquet.is_file() and orphan_video.is_file()  # written but never committed
    assert len(DemoDataset(tmp_path)) == 2

    w2 = new_writer(tmp_path, resume=True)
    assert not orphan_parquet.exists() and not orphan_video.exists()
    w2.add_episode(make_episode(4, 7))
    ds = DemoDataset(tmp_path)
    assert [m.index for m in ds.episodes] == [0, 1, 2] and ds.seeds == [1, 2, 4]
    assert ds.episode(2).length == 7


def test_hard_kill_mid_write_then_resume(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import os, sys
        import numpy as np
        sys.path.insert(0, {str(REPO)!r})
        import dataset.writer
        from dataset import DatasetWriter, Episode
        def ep(seed):
            rng = np.random.default_rng(seed)
            return Episode(seed, {{"state": rng.random((4, 10), dtype=np.float32),
                                   "rgb": rng.integers(0, 256, (4, 96, 96, 3), dtype=np.uint8)}},
                           rng.random((4, 4), dtype=np.float32), np.ones(4, np.float32), True)
        w = DatasetWriter({str(tmp_path)!r}, env_id={ENV_ID!r}, env_kwargs={{}}, fps=10)
        w.add_episode(ep(1)); w.add_episode(ep(2))
        dataset.writer.encode_video = lambda *a, **k: os._exit(17)  # die like SIGKILL
        w.add_episode(ep(3))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 17, proc.stderr
    leftovers = temp_files(tmp_path)
    assert any(p.suffix == ".parquet" for p in leftovers)
    ds = DemoDataset(tmp_path)
    assert ds.seeds == [1, 2]
    assert ds.episode(1).observations["rgb"].shape == (4, 96, 96, 3)
    w = DatasetWriter(tmp_path, env_id=ENV_ID, env_kwargs={}, fps=10, resume=True)
    assert temp_files(tmp_path) == []
    assert w.add_episode(make_episode(3)) == 2
    assert [m.index for m in DemoDataset(tmp_path).episodes] == [0, 1, 2]


def test_garbage_partial_files_do_not_break_reading(tmp_path: Path) -> None:
    _, eps = write_dataset(tmp_path, seeds=(1, 2), lengths=(3, 4), success=(True, True))
    chunk = tmp_path / "data/chunk-000"
    (chunk / "episode_000002.parquet").write_bytes(b"PAR1 truncated garbage")
    (chunk / ".episode_000003.tmp-0123456789ab.parquet").write_bytes(b"\x00" * 100)
    vid = video_path(tmp_path, 2, "rgb")
    vid.write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated")
    (tmp_path / "meta/.episodes.tmp-0123456789ab.jsonl").write_text('{"episode_index": 2')
    ds = DemoDataset(tmp_path)
    assert len(ds) == 2
    assert_episode_equal(ds.episode(1), eps[1])
    assert ds.windows(2, 2).batch(slice(None)).actions.shape == (7, 2, 4)

    w = new_writer(tmp_path, resume=True)
    assert temp_files(tmp_path) == []
    assert not (chunk / "episode_000002.parquet").exists() and not vid.exists()
    w.add_episode(make_episode(3))
    assert DemoDataset(tmp_path).seeds == [1, 2, 3]


def test_corrupt_committed_file_gives_clear_error(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    data_path(tmp_path, 1).write_bytes(b"garbage")
    video_path(tmp_path, 2, "rgb").write_bytes(b"garbage")
    ds = DemoDataset(tmp_path)
    with pytest.raises(DatasetFormatError, match="episode_000001.parquet"):
        ds.episode(1)
    with pytest.raises(DatasetFormatError, match="re-collect"):
        ds.episode(2)


def test_existing_dataset_without_resume_raises(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    with pytest.raises(DatasetExistsError, match="3 committed episode") as exc:
        new_writer(tmp_path)
    assert "resume=True" in str(exc.value) and "new directory" in str(exc.value)
    assert isinstance(exc.value, FileExistsError)


def test_resume_with_different_env_raises_naming_both(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    with pytest.raises(DatasetFormatError) as exc:
        new_writer(tmp_path, env_id="roboloop/Other-v0", resume=True)
    assert ENV_ID in str(exc.value) and "roboloop/Other-v0" in str(exc.value)
    with pytest.raises(DatasetFormatError, match="env_kwargs"):
        new_writer(tmp_path, env_kwargs={"image_size": 64}, resume=True)
    with pytest.raises(DatasetFormatError, match="fps"):
        new_writer(tmp_path, fps=20, resume=True)


def test_resume_on_missing_or_empty_dataset_creates_it(tmp_path: Path) -> None:
    w = new_writer(tmp_path / "new", resume=True)
    assert w.num_episodes == 0 and w.seeds == set()
    w0 = new_writer(tmp_path / "fresh")  # opened, nothing committed: reopening is not an error
    del w0
    w1 = new_writer(tmp_path / "fresh", env_id="roboloop/Other-v0")
    w1.add_episode(make_episode(1))
    assert DemoDataset(tmp_path / "fresh").env_id == "roboloop/Other-v0"


def test_non_dataset_non_empty_dir_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetExistsError, match="not a roboloop dataset"):
        new_writer(tmp_path)


# ---------------------------------------------------------------- validation


def _bad(kind: str) -> tuple[Episode, str]:
    ep = make_episode(5)
    if kind == "T":
        ep.observations["state"] = ep.observations["state"][:-1]
        return ep, r"expected leading dim T=6.*got shape \(5, 10\)"
    if kind == "rewards":
        ep.rewards = ep.rewards[:-1]
        return ep, r"rewards: expected shape \(6,\)"
    if kind == "nan":
        ep.actions[2, 1] = np.nan
        return ep, r"actions.*1 NaN/inf value\(s\), first at step 2"
    if kind == "inf_obs":
        ep.observations["state"][4, 0] = np.inf
        return ep, r"observations\['state'\].*first at step 4"
    if kind == "empty":
        ep.actions, ep.rewards = ep.actions[:0], ep.rewards[:0]
        ep.observations = {k: v[:0] for k, v in ep.observations.items()}
        return ep, "T=0"
    if kind == "extra":
        ep.extra = {"arr": np.zeros(2)}
        return ep, "JSON-serializable"
    if kind == "seed":
        ep.seed = None
        return ep, "seed"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["T", "rewards", "nan", "inf_obs", "empty", "extra", "seed"])
def test_bad_episode_rejected(tmp_path: Path, kind: str) -> None:
    w = new_writer(tmp_path)
    w.add_episode(make_episode(1))
    ep, pattern = _bad(kind)
    with pytest.raises(DatasetFormatError, match=pattern):
        w.add_episode(ep)
    assert w.num_episodes == 1 and len(DemoDataset(tmp_path)) == 1
    assert temp_files(tmp_path) == []


def test_features_must_match_first_episode(tmp_path: Path) -> None:
    w = new_writer(tmp_path)
    w.add_episode(make_episode(1))
    ep = make_episode(2)
    ep.observations["depth"] = np.zeros((6, 96, 96), np.float32)
    with pytest.raises(DatasetFormatError, match=r"unexpected \['observation.depth'\]"):
        w.add_episode(ep)
    ep = make_episode(3)
    ep.observations["state"] = np.zeros((6, 11), np.float32)
    with pytest.raises(DatasetFormatError, match=r"float32 \(10,\).*got float32 \(11,\)"):
        w.add_episode(ep)
    ep = make_episode(4)
    ep.observations["state"] = ep.observations["state"].astype(np.float64)
    with pytest.raises(DatasetFormatError, match="got float64"):
        w.add_episode(ep)
    with pytest.raises(DatasetFormatError, match=r"'action'.*\(4,\).*\(3,\)"):
        w.add_episode(make_episode(5, da=3))
    # the same check survives a resume (features read back from info.json)
    with pytest.raises(DatasetFormatError, match="got float64"):
        new_writer(tmp_path, resume=True).add_episode(ep)


def test_reading_non_dataset_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetFormatError) as exc:
        DemoDataset(tmp_path)
    msg = str(exc.value)
    assert str(tmp_path / "meta" / "info.json") in msg and "DatasetWriter" in msg
    assert "collect_demos.py" in msg
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta/info.json").write_text(json.dumps({"codebase_version": "v2.1"}))
    with pytest.raises(DatasetFormatError, match="expected format 'roboloop.dataset'"):
        DemoDataset(tmp_path)
    future = {"format": "roboloop.dataset", "version": 9}
    (tmp_path / "meta/info.json").write_text(json.dumps(future))
    with pytest.raises(DatasetFormatError, match="expected dataset format version 1, got 9"):
        DemoDataset(tmp_path)
    (tmp_path / "meta/info.json").write_text("{not json")
    with pytest.raises(DatasetFormatError, match="not valid JSON"):
        DemoDataset(tmp_path)


# ---------------------------------------------------------------- windows


def _tiny_episode(seed: int, start: int, t: int) -> Episode:
    """Values encode the global frame id so windows can be checked by hand."""
    ids = np.arange(start, start + t, dtype=np.float32)
    return Episode(seed, {"state": ids[:, None]}, np.stack([ids, -ids], 1), ids, True)


def test_windows_hand_computed() -> None:
    eps = [_tiny_episode(0, 0, 3), _tiny_episode(1, 10, 2)]  # frames 0,1,2 | 10,11
    win = make_windows(eps, obs_horizon=2, action_horizon=3, episode_indices=[7, 9])
    assert len(win) == 5 and win.keys == ["state"] and win.action_dim == 2
    assert (win.obs_horizon, win.action_horizon) == (2, 3)
    assert win.frames["state"].shape == (5, 1) and win.actions.shape == (5, 2)  # stored once
    np.testing.assert_array_equal(win.obs_index, [[0, 0], [0, 1], [1, 2], [3, 3], [3, 4]])
    b = win.batch(slice(None))
    assert len(b) == 5 and b.observations["state"].shape == (5, 2, 1)
    assert b.actions.shape == (5, 3, 2) and b.action_is_pad.shape == (5, 3)
    obs = b.observations["state"][..., 0]
    np.testing.assert_array_equal(obs, [[0, 0], [0, 1], [1, 2], [10, 10], [10, 11]])
    act = b.actions[..., 0]
    np.testing.assert_array_equal(
        act, [[0, 1, 2], [1, 2, 2], [2, 2, 2], [10, 11, 11], [11, 11, 11]]
    )
    np.testing.assert_array_equal(b.actions[..., 1], -act)
    pad = [[0, 0, 0], [0, 0, 1], [0, 1, 1], [0, 0, 1], [0, 1, 1]]
    np.testing.assert_array_equal(b.action_is_pad, pad)
    np.testing.assert_array_equal(win.action_is_pad, pad)
    np.testing.assert_array_equal(b.episode_index, [7, 7, 7, 9, 9])
    np.testing.assert_array_equal(win.episode_index, [7, 7, 7, 9, 9])
    # a batch gathers only the requested samples, in the requested order
    b = win.batch(np.array([4, 0, 4]))
    np.testing.assert_array_equal(b.observations["state"][..., 0], [[10, 11], [0, 0], [10, 11]])
    np.testing.assert_array_equal(b.actions[..., 0], [[11, 11, 11], [0, 1, 2], [11, 11, 11]])
    np.testing.assert_array_equal(b.episode_index, [9, 7, 9])
    np.testing.assert_array_equal(win.current_obs("state")[:, 0], [0, 1, 2, 10, 11])


def test_windows_from_dataset_shapes_and_boundaries(tmp_path: Path) -> None:
    w = new_writer(tmp_path)
    starts, lengths = (0, 100, 200), (5, 1, 7)
    for i, (s, t) in enumerate(zip(starts, lengths, strict=True)):
        ep = make_episode(i, t)
        ep.observations["state"][:, 0] = np.arange(s, s + t)
        ep.actions[:, 0] = np.arange(s, s + t)
        w.add_episode(ep)
    ds = DemoDataset(tmp_path)
    win = ds.windows(obs_horizon=3, action_horizon=4)
    n = sum(lengths)
    assert len(win) == n and win.frames["rgb"].shape == (n, 96, 96, 3)
    b = win.batch(np.arange(n))
    assert b.observations["state"].shape == (n, 3, 10)
    assert b.observations["rgb"].shape == (n, 3, 96, 96, 3)
    assert b.observations["rgb"].dtype == np.uint8
    assert b.actions.shape == (n, 4, 4) and b.action_is_pad.shape == (n, 4)
    assert b.actions.dtype == np.float32
    # every value in a window comes from the sample's own episode
    base = np.asarray(starts)[b.episode_index][:, None]
    for arr in (b.observations["state"][..., 0], b.actions[..., 0]):
        assert ((arr >= base) & (arr < base + 100)).all()
    # current frame is last in the obs history; first action is the current action
    np.testing.assert_array_equal(b.observations["state"][:, -1, 0], b.actions[:, 0, 0])
    np.testing.assert_array_equal(win.current_obs("state"), b.observations["state"][:, -1])
    assert b.action_is_pad.sum() == sum(sum(min(k, t) for k in range(1, 4)) for t in lengths)
    rgb0 = ds.episode(0).observations["rgb"]
    np.testing.assert_array_equal(b.observations["rgb"][0], rgb0[[0, 0, 0]])
    with pytest.raises(ValueError, match=">= 1"):
        ds.windows(obs_horizon=0)


def test_windows_empty_filter(tmp_path: Path) -> None:
    write_dataset(tmp_path, success=(False, False, False))
    win = DemoDataset(tmp_path, success_only=True).windows(2, 5)
    assert len(win) == 0 and win.action_dim == 4 and win.keys == ["state", "rgb"]
    assert win.frames["rgb"].shape == (0, 96, 96, 3) and win.frames["rgb"].dtype == np.uint8
    assert win.current_obs("state").shape == (0, 10)
    for idx in (np.array([], dtype=np.int64), [], slice(None)):
        b = win.batch(idx)
        assert b.observations["rgb"].shape == (0, 2, 96, 96, 3)
        assert b.actions.shape == (0, 5, 4) and b.action_is_pad.shape == (0, 5) and len(b) == 0
    with pytest.raises(IndexError, match=r"valid range is \[0, 0\)"):
        win.batch([0])


def _image_episodes(n_eps: int = 5, t: int = 20) -> list[Episode]:
    """Episodes whose rgb pixels and actions encode the global frame id (f % 256, f)."""
    eps = []
    for e in range(n_eps):
        ids = np.arange(e * t, (e + 1) * t)
        rgb = np.broadcast_to((ids % 256).astype(np.uint8)[:, None, None, None], (t, 32, 32, 3))
        actions = np.stack([ids, -ids], 1).astype(np.float32)
        eps.append(Episode(e, {"rgb": rgb.copy()}, actions, np.zeros(t, np.float32), True))
    return eps


def test_windows_store_each_image_frame_once() -> None:
    n_eps, t, to, tp = 5, 20, 2, 8
    win = make_windows(_image_episodes(n_eps, t), obs_horizon=to, action_horizon=tp)
    f = n_eps * t
    frame_bytes = 32 * 32 * 3
    assert len(win) == f and win.frames["rgb"].shape == (f, 32, 32, 3)
    index_bytes = f * (to + tp) * 8 + f * tp + f * 8  # obs/action index, pad mask, episode_index
    assert win.nbytes == f * frame_bytes + f * 2 * 4 + index_bytes
    assert win.nbytes < f * to * frame_bytes  # a materialised obs window alone would be larger
    b = win.batch(np.array([3, 41]))
    assert b.observations["rgb"].shape == (2, to, 32, 32, 3)
    assert b.observations["rgb"].nbytes == 2 * to * frame_bytes


def test_windows_batch_matches_explicit_index_arithmetic() -> None:
    n_eps, t, to, tp = 5, 20, 2, 8
    win = make_windows(_image_episodes(n_eps, t), obs_horizon=to, action_horizon=tp,
                       episode_indices=[10, 11, 12, 13, 14])
    idx = np.random.default_rng(0).integers(0, n_eps * t, 64)
    b = win.batch(idx)
    for row, i in enumerate(idx):
        e, local = divmod(int(i), t)
        start = e * t
        obs_ids = [start + max(local - k, 0) for k in range(to - 1, -1, -1)]
        act_ids = [start + min(local + k, t - 1) for k in range(tp)]
        want_rgb = np.broadcast_to(
            (np.array(obs_ids) % 256).astype(np.uint8)[:, None, None, None], (to, 32, 32, 3))
        np.testing.assert_array_equal(b.observations["rgb"][row], want_rgb)
        np.testing.assert_array_equal(b.actions[row], np.stack([act_ids, np.negative(act_ids)], 1))
        np.testing.assert_array_equal(b.action_is_pad[row], [local + k > t - 1 for k in range(tp)])
        assert b.episode_index[row] == 10 + e
    # a slice gives the same as the equivalent index array
    s, a = win.batch(slice(18, 23)), win.batch(np.arange(18, 23))
    np.testing.assert_array_equal(s.observations["rgb"], a.observations["rgb"])
    np.testing.assert_array_equal(s.actions, a.actions)


def test_windows_bad_batch_index() -> None:
    win = make_windows(_image_episodes(2, 3), obs_horizon=2, action_horizon=2)
    for bad in ([0, 6], [-1], np.array([2, 100])):
        with pytest.raises(IndexError, match=r"out of range: valid range is \[0, 6\)"):
            win.batch(bad)
    with pytest.raises(TypeError, match="1-D int array"):
        win.batch(np.array([0.5]))
    with pytest.raises(TypeError, match=r"wrap a single index as \[i\]"):
        win.batch(3)


def test_windows_constructor_checks_rows() -> None:
    frames = {"state": np.zeros((4, 2), np.float32)}
    with pytest.raises(ValueError, match=r"state: expected 5 rows"):
        Windows(frames, np.zeros((5, 1)), [2, 3])
    with pytest.raises(ValueError, match="one label per episode"):
        Windows(frames, np.zeros((4, 1)), [2, 2], episode_indices=[0])
    with pytest.raises(ValueError, match=r"actions: expected \(F, Da\)"):
        Windows(frames, np.zeros(4), [2, 2])


# ---------------------------------------------------------------- video + atomic helpers


@pytest.mark.parametrize("shape", [(96, 96), (7, 5), (1, 1)])
def test_video_lossless_round_trip(tmp_path: Path, shape) -> None:
    frames = np.random.default_rng(0).integers(0, 256, (4, *shape, 3), dtype=np.uint8)
    write_video(tmp_path / "v.mp4", frames, fps=12.5, lossless=True)
    np.testing.assert_array_equal(read_video(tmp_path / "v.mp4"), frames)
    assert temp_files(tmp_path) == []


@pytest.mark.parametrize("shape", [(96, 96), (33, 17)])
def test_video_lossy_any_size(tmp_path: Path, shape) -> None:
    frames = np.full((5, *shape, 3), 128, dtype=np.uint8)
    write_video(tmp_path / "v.mp4", frames, fps=20, lossless=False)
    out = read_video(tmp_path / "v.mp4")
    h, w = shape
    assert out.shape == (5, h + h % 2, w + w % 2, 3)  # odd sizes edge-padded to even
    assert np.abs(out[:, :h, :w].astype(int) - 128).max() <= 3


def test_video_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        write_video(tmp_path / "v.mp4", np.zeros((2, 8, 8), np.uint8), fps=10)
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "v.mp4", np.zeros((2, 8, 8, 3), np.float32), fps=10)
    with pytest.raises(ValueError, match="fps"):
        write_video(tmp_path / "v.mp4", np.zeros((2, 8, 8, 3), np.uint8), fps=0)
    with pytest.raises(FileNotFoundError):
        read_video(tmp_path / "missing.mp4")
    (tmp_path / "bad.mp4").write_bytes(b"garbage")
    with pytest.raises(OSError, match="bad.mp4"):
        read_video(tmp_path / "bad.mp4")
    assert not (tmp_path / "v.mp4").exists()


def test_atomic_path(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "ckpt.bin"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old" and temp_files(tmp_path) == []
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and is_temp_name(tmp.name)
        tmp.write_text("new")
    assert target.read_text() == "new" and temp_files(tmp_path) == []

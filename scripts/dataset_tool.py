"""Merge, split, export and import datasets (the library is dataset.tools and dataset.export).

    python scripts/dataset_tool.py command=merge sources=[data/a,data/b] target=data/ab
    python scripts/dataset_tool.py command=split source=data/ab target=data/parts parts={train:0.9,valid:0.1}
    python scripts/dataset_tool.py command=export_robomimic source=data/ab target=ab.hdf5 parts={valid:[0,1]}
    python scripts/dataset_tool.py command=import_robomimic source=ab.hdf5 target=data/ab2 mask=valid
    python scripts/dataset_tool.py command=export_minari source=data/ab dataset_id=roboloop/ab-v0
    python scripts/dataset_tool.py command=import_minari source=roboloop/ab-v0 target=data/ab3

split writes one dataset per part (data/parts/train, data/parts/valid); export_robomimic stores
parts as the file's masks. The run directory (runs/dataset_tool/<stamp>/) gets config.yaml and
result.json. Every output is new (existing targets are refused) and appears complete or not at all.
"""

from collections.abc import Callable
from pathlib import Path

import hydra
from omegaconf import DictConfig

from dataset.export import export_minari, export_robomimic, import_minari, import_robomimic
from dataset.tools import merge, split
from envs.errors import ConfigError
from runs import plain, start_run, write_json


def need(cfg: DictConfig, *fields: str) -> None:
    """Fail with the command's required fields when one is not set."""
    missing = [f for f in fields if cfg.get(f) in (None, [], {})]
    if missing:
        raise ConfigError(f"command={cfg.command} needs {', '.join(f + '=...' for f in fields)}; "
                          f"missing {missing} (see configs/dataset_tool.yaml)")


def run_merge(cfg: DictConfig) -> dict:
    """Concatenate `sources` into `target`."""
    need(cfg, "sources", "target")
    ds = merge(list(cfg.sources), cfg.target, allow_duplicate_seeds=cfg.allow_duplicate_seeds)
    return {"target": str(ds.root), "episodes": len(ds), "seeds": ds.seeds}


def run_split(cfg: DictConfig) -> dict:
    """One new dataset per part, under `target`."""
    need(cfg, "source", "target", "parts")
    targets = {str(Path(cfg.target) / name): part for name, part in plain(cfg.parts).items()}
    return {"source": cfg.source, "parts": split(cfg.source, targets, seed=cfg.seed)}


def run_export_robomimic(cfg: DictConfig) -> dict:
    """One HDF5 file; `parts` become its masks."""
    need(cfg, "source", "target")
    parts = plain(cfg.parts) if cfg.parts else None
    return {"target": str(export_robomimic(cfg.source, cfg.target, split=parts, seed=cfg.seed))}


def run_import_robomimic(cfg: DictConfig) -> dict:
    """A new dataset from an HDF5 file."""
    need(cfg, "source", "target")
    ds = import_robomimic(cfg.source, cfg.target, mask=cfg.mask, fps=cfg.fps)
    return {"target": str(ds.root), "episodes": len(ds)}


def run_export_minari(cfg: DictConfig) -> dict:
    """A Minari dataset under `target` (or Minari's datasets folder)."""
    need(cfg, "source", "dataset_id")
    return {"target": str(export_minari(cfg.source, cfg.dataset_id, root=cfg.target))}


def run_import_minari(cfg: DictConfig) -> dict:
    """A new dataset from a Minari dataset folder or id."""
    need(cfg, "source", "target")
    ds = import_minari(cfg.source, cfg.target, fps=cfg.fps)
    return {"target": str(ds.root), "episodes": len(ds)}


COMMANDS: dict[str, Callable[[DictConfig], dict]] = {
    "merge": run_merge, "split": run_split,
    "export_robomimic": run_export_robomimic, "import_robomimic": run_import_robomimic,
    "export_minari": run_export_minari, "import_minari": run_import_minari,
}


@hydra.main(config_path="../configs", config_name="dataset_tool", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Run one command; print and save (result.json) what it wrote."""
    if cfg.command not in COMMANDS:
        raise ConfigError(f"unknown command={cfg.command!r}; known commands: {sorted(COMMANDS)}")
    out = start_run(cfg)
    result = {"command": cfg.command, **COMMANDS[cfg.command](cfg)}
    write_json(out / "result.json", result)
    print(", ".join(f"{k}: {v}" for k, v in result.items() if k != "seeds"))


if __name__ == "__main__":
    main()

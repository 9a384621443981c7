"""Record rollout MP4s of a trained checkpoint, or of the scripted expert when none is given.

python scripts/record_video.py checkpoint=runs/train/<stamp>/checkpoint.pt episodes=3
"""

import hydra
from omegaconf import DictConfig

import envs
from agents.experts import make_expert
from loop.recorders import VideoRecorder
from loop.rollout import run_episodes
from runs import load_trained, plain, start_run


@hydra.main(config_path="../configs", config_name="record_video", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """One MP4 per episode under ``<run dir>/videos``."""
    out = start_run(cfg)
    perception = None
    if cfg.checkpoint:
        agent, perception = load_trained(cfg.checkpoint)
        env_id, env_kwargs = agent.meta.env_id, agent.meta.env_kwargs
    else:
        env_id, env_kwargs = cfg.env.id, plain(cfg.env.kwargs)
        agent = make_expert(env_id)
    env = envs.make(env_id, **{**env_kwargs, "render_mode": "rgb_array"})
    videos = VideoRecorder(env, out / "videos", max_videos=cfg.episodes)
    try:
        results = run_episodes(env, agent, range(cfg.start_seed, cfg.start_seed + cfg.episodes),
                               perception=perception, callbacks=[videos], progress="record video")
    finally:
        env.close()
    for path, r in zip(videos.paths, results, strict=True):
        print(f"{path}  ({r.length} steps, {'success' if r.success else r.reason})")


if __name__ == "__main__":
    main()

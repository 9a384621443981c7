"""Seed hygiene: training, validation and evaluation seeds are three disjoint ranges.

Demonstrations and online training episodes use seeds from ``TRAIN_SEEDS`` (0 .. 89,999);
periodic evaluation during training, which picks the best checkpoint, uses ``VALIDATION_SEEDS``
(90,000 .. 99,999); reported results use evaluation seeds from 100,000 on, which no choice made
during training has seen.

Seed sets are stored compactly as sorted, merged ``[start, stop)`` ranges (``to_ranges``), so a
checkpoint can say which seeds an online learner trained on (say 0 .. 40,000) in a few numbers.
"""

from collections.abc import Iterable, Sequence

from envs.errors import ConfigError, RoboloopError

EVAL_START_SEED = 100_000  # evaluation seeds start here; demo/training seeds stay below it
VALIDATION_SEEDS = range(90_000, EVAL_START_SEED)  # model selection during training (best checkpoint)
TRAIN_SEEDS = range(0, VALIDATION_SEEDS.start)  # where online learners draw training episodes' seeds

SeedRanges = list[tuple[int, int]]


class SeedOverlapError(RoboloopError, ValueError):
    """Evaluation was asked for seeds the agent was trained or demonstrated on."""


def evaluation_seeds(episodes: int, start: int = EVAL_START_SEED) -> list[int]:
    """Held-out seeds ``start, start+1, ...``; at least one episode."""
    if not isinstance(episodes, int) or episodes < 1:
        raise ConfigError(f"evaluation needs at least one episode, got episodes={episodes!r}; "
                          "set eval.episodes to a positive number")
    return list(range(start, start + episodes))


def to_ranges(seeds: Iterable[int]) -> SeedRanges:
    """Sorted, merged half-open ranges covering exactly ``seeds``: [0, 1, 2, 5] -> [(0, 3), (5, 6)]."""
    out: SeedRanges = []
    for s in sorted(set(int(s) for s in seeds)):
        if out and out[-1][1] == s:
            out[-1] = (out[-1][0], s + 1)
        else:
            out.append((s, s + 1))
    return out


def check_disjoint(eval_seeds: Sequence[int], train_seeds: SeedRanges) -> None:
    """Refuse to evaluate on seeds inside the training ranges (``to_ranges`` of what trained)."""
    overlap = [s for s in eval_seeds if any(lo <= s < hi for lo, hi in train_seeds)]
    if overlap:
        raise SeedOverlapError(
            f"evaluation seeds overlap the training/demo seeds at {overlap[:10]} "
            f"({len(overlap)} in all; trained on {train_seeds[:5]}); evaluate on held-out seeds, "
            f"e.g. start at {EVAL_START_SEED}")

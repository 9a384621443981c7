"""``python -m benchmarks``: the env speed benchmark; see ``docs/benchmarks.md``."""

import sys

from benchmarks.env_speed import main

if __name__ == "__main__":  # spawned vector-env workers re-import this module: run only here
    sys.exit(main())

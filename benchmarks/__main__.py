"""``python -m benchmarks``: the env speed benchmark; see ``docs/benchmarks.md``."""

import sys

from benchmarks.env_speed import main

if __name__ == "__main__":  # vector-env workers are spawned and re-import the main module
    sys.exit(main())

"""``python -m benchmarks``: the env speed benchmark; see ``docs/benchmarks.md``."""

import sys

from benchmarks.env_speed import main

sys.exit(main())

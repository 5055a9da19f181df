"""Server start time: cold (fresh data home: initdb, migrations, demo database) and warm (everything exists).

Run: .venv/bin/python bench/bench_startup.py [--warm-runs 3]
Prints seconds from process start to the first 200 from /health.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.server_process import ServerProcess  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm-runs", type=int, default=3)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="dp_bench_start_"))
    try:
        cold = ServerProcess(home, as_shipped=True).start(timeout=180)
        cold.stop()
        warm = []
        for _ in range(args.warm_runs):
            s = ServerProcess(home, as_shipped=True).start(timeout=60)
            warm.append(s.ready_after_s)
            s.stop()
        print(f"cold start (initdb + migrations + demo DB): {cold.ready_after_s:.2f} s")
        print(f"warm start: median {statistics.median(warm):.2f} s over {len(warm)} runs "
              f"(min {min(warm):.2f}, max {max(warm):.2f})")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

"""How long the seed's example takes end to end: `orch demo --json`, run a few times, figures printed.

    .venv/bin/python bench/demo_time.py [--runs 3]

Prints the wall time of each run (stack start included) and the workflow's own elapsed time.
The target (issue: under 30 s after installation) is read from these figures, not asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ORCH = Path(sys.executable).parent / "orch"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    walls, workflows = [], []
    for run in range(1, args.runs + 1):
        started = time.monotonic()
        result = subprocess.run([str(ORCH), "demo", "--json"], capture_output=True, text=True, timeout=300)
        wall = time.monotonic() - started
        outcome = json.loads(result.stdout)
        walls.append(wall)
        workflows.append(outcome["elapsed_seconds"])
        print(
            f"run {run}: {outcome['status']:<10} wall {wall:6.2f} s   workflow {outcome['elapsed_seconds']:6.2f} s"
        )
    print(f"wall     median {statistics.median(walls):6.2f} s   max {max(walls):6.2f} s")
    print(f"workflow median {statistics.median(workflows):6.2f} s   max {max(workflows):6.2f} s")


if __name__ == "__main__":
    main()

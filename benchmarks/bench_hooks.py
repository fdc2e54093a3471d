"""Wall time of the pre-commit hooks' commands on this repository's own example, as a
user's commit pays it: a fresh interpreter each time (best of N runs).

    python benchmarks/bench_hooks.py [--runs 10]

Targets (issue: pre-commit integration): validate < 0.5 s, check < 1 s.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def best_of(cmd: list[str], runs: int) -> tuple[float, int]:
    best = float("inf")
    code = 0
    for _ in range(runs):
        start = time.perf_counter()
        code = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, check=False).returncode
        best = min(best, time.perf_counter() - start)
    return best, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    exe = shutil.which("mlflow-policy", path=str(Path(sys.executable).parent)) or "mlflow-policy"
    policy_files = sorted(str(p.relative_to(REPO)) for p in (REPO / "policies").glob("*.yaml"))
    cases = [
        ("mlflow-policy-validate", [exe, "validate", *policy_files], 0.5),
        ("mlflow-policy-check", [exe, "check", "--quiet"], 1.0),
    ]
    print(f"{'hook':<24} {'best wall':>10} {'target':>8}  exit")
    for name, cmd, target in cases:
        wall, code = best_of(cmd, args.runs)
        verdict = "ok" if wall < target else "SLOW"
        print(f"{name:<24} {wall:>9.3f}s {target:>7.1f}s  {code}  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

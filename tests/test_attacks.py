"""Issue 10: what a pull request must not be able to do to ``check`` in CI.

Each directory under ``tests/attacks/`` is one attack (see its README): files laid over a
small base repository, links/FIFOs made at run time, and what must (not) come out of every
report format, ``facts`` (text and json, with --vars) and stderr. All runs of a case happen
in one subprocess with a 1 GiB address-space limit and a 10 s CPU-time limit (and a wall
clock for what blocks), so a regression fails instead of hanging or swapping the suite.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_report_html import assert_inert

HERE = Path(__file__).resolve().parent
ATTACKS = HERE / "attacks"
BASE = ATTACKS / "_base"
CASES = sorted(p for p in ATTACKS.iterdir() if (p / "case.yaml").is_file())
FORMATS = ("text", "json", "sarif", "junit", "github", "markdown", "codeclimate", "html")
MEMORY_LIMIT = 1 << 30
# The time limit is CPU time (RLIMIT_CPU), which machine load does not inflate the way it
# does wall time; a run that blocks (a FIFO) uses no CPU and is caught by the wall clock.
WALL_FACTOR = 6
CANARY_ENV = {"MLFLOW_POLICY_CANARY_TOKEN": "canary-env-9d41c7"}

DEFAULT_RUNS: list[list[str]] = [
    ["check", "--no-color", *(a for f in FORMATS for a in ("--format", f"{f}=out/{f}"))],
    ["facts", "--vars"],
    ["facts", "--format", "json"],
]

# Runs mlflow-policy's main() once per argv in this one process, recording exit codes.
DRIVER = """
import json, sys
from mlflow_policy.cli import main
codes = []
for argv in json.loads(sys.argv[1]):
    print(f"=== {' '.join(argv)}", flush=True)
    print(f"=== {' '.join(argv)}", file=sys.stderr, flush=True)
    codes.append(main(argv))
    sys.stdout.flush()
with open(sys.argv[2], "w") as fh:
    json.dump(codes, fh)
"""


def _limits(seconds: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))

    return apply


def _setup(case: Path, spec: dict[str, Any], repo: Path) -> None:
    shutil.copytree(BASE, repo)
    if (case / "repo").is_dir():
        shutil.copytree(case / "repo", repo, dirs_exist_ok=True)
    (repo / "out").mkdir()
    for rel, text in spec.get("files", {}).items():  # files tools would trip on if committed
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    links = {**spec.get("symlinks", {}), **spec.get("chardevs", {})}
    for rel, target in links.items():
        where = repo / rel
        where.parent.mkdir(parents=True, exist_ok=True)
        if where.is_file() or where.is_symlink():
            where.unlink()
        os.symlink(str(target).replace("{outside}", str(repo.parent / "outside")), where)
    for rel in spec.get("fifos", []):
        where = repo / rel
        where.parent.mkdir(parents=True, exist_ok=True)
        where.unlink(missing_ok=True)
        os.mkfifo(where)
    for rel, mode in spec.get("chmod", {}).items():
        os.chmod(repo / rel, int(str(mode), 8))
    outside = repo.parent / "outside"
    outside.mkdir()
    for rel, text in spec.get("outside", {}).items():
        (outside / rel).parent.mkdir(parents=True, exist_ok=True)
        (outside / rel).write_text(text)


def run_case(case: Path, tmp_path: Path) -> tuple[list[int], str, float]:
    """Run the case; its exit codes, everything it wrote (stdout, stderr, files), time."""
    spec = yaml.safe_load((case / "case.yaml").read_text())
    repo = tmp_path / "repo"
    _setup(case, spec, repo)
    runs = spec.get("runs", DEFAULT_RUNS)
    codes_file = tmp_path / "codes.json"
    env = {**os.environ, **CANARY_ENV, **{k: str(v) for k, v in spec.get("env", {}).items()}}
    env.pop("MLFLOW_POLICY_JOBS", None)
    limit = int(spec.get("limit_seconds", 10))
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", DRIVER, json.dumps(runs), str(codes_file)],
            cwd=repo, env=env, capture_output=True, timeout=limit * WALL_FACTOR,
            preexec_fn=_limits(limit), stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case.name}: blocked: did not finish in {limit * WALL_FACTOR} s")
    if proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        pytest.fail(f"{case.name}: used more than {limit} s of CPU")
    elapsed = time.monotonic() - started
    out = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
    for path in sorted((repo / "out").rglob("*")):
        if path.is_file():
            out += f"\n=== {path.name}\n" + path.read_text("utf-8", "replace")
    assert codes_file.exists(), f"{case.name}: the driver died (rc {proc.returncode}):\n{out}"
    return json.loads(codes_file.read_text()), out, elapsed


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_attack(case: Path, tmp_path: Path) -> None:
    spec = yaml.safe_load((case / "case.yaml").read_text())
    codes, out, _ = run_case(case, tmp_path)
    want = spec.get("exit", 0)
    want_codes = want if isinstance(want, list) else [want] * len(codes)
    assert codes == want_codes, out
    assert "Traceback" not in out, out
    lowered = out.lower()
    for marker in ["canary", *spec.get("absent", [])]:
        assert marker.lower() not in lowered, f"{marker!r} leaked:\n{out}"
    for text in spec.get("present", []):
        assert text.lower() in lowered, f"{text!r} missing:\n{out}"
    page = tmp_path / "repo" / "out" / "html"
    if page.is_file():  # whatever the attack planted stays data inside the page
        assert_inert(page.read_text())


def test_base_repository_is_clean(tmp_path: Path) -> None:
    """The base repo alone runs, and its report quotes the values the attacks plant."""
    (tmp_path / "case").mkdir()
    (tmp_path / "case" / "case.yaml").write_text("why: none\n")
    codes, out, _ = run_case(tmp_path / "case", tmp_path)
    assert codes == [1, 0, 0], out
    for fmt in FORMATS:
        assert f"=== {fmt}\n" in out
    assert "'3'" in out  # the retries value is quoted: a planted secret there would show

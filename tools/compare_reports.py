#!/usr/bin/env python3
"""Compare every report of two versions of mlflow-policy, byte for byte.

Runs every ``check`` report format (text, json, sarif, junit, github, markdown,
codeclimate) and ``facts`` (text, json) with two source trees on the same inputs: the
examples (``policies/`` against ``inventories/``), every ``tests/cases/*`` case (with the
arguments its ``expected.yaml`` gives), and a generated benchmark fleet
(``tests/gen_inventory.realistic_fleet``, the one ``benchmarks/bench_facts.py`` times,
checked with the starter pack). Prints, per output, ``same`` or ``DIFF`` with the start of
a unified diff; exits 1 when any output differs.

    .venv/bin/python tools/compare_reports.py                       # main vs this tree
    .venv/bin/python tools/compare_reports.py --old 7de9e6c --new HEAD --fleet-size 2000

The old ref (and ``--new`` when it is a ref) is checked out with ``git worktree add`` into
a temporary directory and run with this interpreter (``PYTHONPATH`` puts that tree first),
so both sides use the same dependencies. Inputs always come from this tree, so both sides
read the same files.
"""

from __future__ import annotations

import argparse
import difflib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECK_FORMATS = ("text", "json", "sarif", "junit", "github", "markdown", "codeclimate")
FACTS_FORMATS = ("text", "json")


@dataclass(frozen=True)
class Job:
    name: str  # what the output is, for the listing
    cwd: Path
    argv: tuple[str, ...]


def _case_jobs(case: Path) -> Iterator[Job]:
    import yaml

    expected = yaml.safe_load((case / "expected.yaml").read_text())
    extra = [str(a) for a in expected.get("args", [])]
    if (case / "inventory").is_dir():
        inv = ["-i", "inventory"]
    else:
        inv = [a for d in sorted((case / "inventories").iterdir())
               for a in ("-i", f"inventories/{d.name}")]
    vault = [a for i, a in enumerate(extra)
             if a.startswith("--vault") or (i and extra[i - 1].startswith("--vault"))]
    for fmt in CHECK_FORMATS:
        yield Job(f"cases/{case.name}: check --format {fmt}", case,
                  ("check", "-p", "policies", *inv, *extra, "--format", fmt))
    for fmt in FACTS_FORMATS:
        yield Job(f"cases/{case.name}: facts --format {fmt}", case,
                  ("facts", *inv, *vault, "--format", fmt))


def jobs(fleet: Path | None) -> list[Job]:
    out: list[Job] = []
    for fmt in CHECK_FORMATS:
        out.append(Job(f"examples: check --format {fmt}", REPO,
                       ("check", "-p", "policies", "--format", fmt)))
    for fmt in FACTS_FORMATS:
        out.append(Job(f"examples: facts --format {fmt}", REPO, ("facts", "--format", fmt)))
    for case in sorted((REPO / "tests" / "cases").iterdir()):
        if (case / "expected.yaml").is_file():
            out.extend(_case_jobs(case))
    if fleet is not None:
        starter = REPO / "examples" / "starter" / "policies"
        for fmt in CHECK_FORMATS:
            out.append(Job(f"fleet: check --format {fmt}", fleet.parent,
                           ("check", "-p", str(starter), "-i", str(fleet), "--format", fmt)))
        for fmt in FACTS_FORMATS:
            out.append(Job(f"fleet: facts --format {fmt}", fleet.parent,
                           ("facts", "-i", str(fleet), "--format", fmt)))
    return out


def run(tree: Path, job: Job) -> tuple[int, bytes, bytes]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    env["PYTHONPATH"] = str(tree)
    env["NO_COLOR"] = "1"
    # -P: the working directory must not shadow PYTHONPATH's tree (the examples run in it)
    proc = subprocess.run([sys.executable, "-P", "-m", "mlflow_policy", *job.argv], cwd=job.cwd,
                          env=env, capture_output=True, timeout=900, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def short_diff(old: bytes, new: bytes, limit: int) -> list[str]:
    a, b = old.decode("utf-8", "replace"), new.decode("utf-8", "replace")
    if a.count("\n") <= 2 and b.count("\n") <= 2:
        # one long line (the facts JSON document): show where it first differs
        at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                  min(len(a), len(b)))
        return [f"first difference at character {at} (of {len(a)} -> {len(b)}):",
                f"- ...{a[max(0, at - 60):at + 100]!r}", f"+ ...{b[max(0, at - 60):at + 100]!r}"]
    lines = list(difflib.unified_diff(
        old.decode("utf-8", "replace").splitlines(), new.decode("utf-8", "replace").splitlines(),
        "old", "new", n=0, lineterm=""))
    shown = [line if len(line) <= 200 else line[:200] + "..." for line in lines[:limit]]
    if len(lines) > limit:
        shown.append(f"... {len(lines) - limit} more diff lines")
    return shown


def _tree(ref: str, base: Path, label: str) -> Path:
    target = base / label
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet",
                    str(target), ref], check=True)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="main", help="git ref of the old version (main)")
    parser.add_argument("--new", default=None,
                        help="git ref of the new version (default: this working tree, "
                             "uncommitted changes included)")
    parser.add_argument("--fleet-size", type=int, default=10_000,
                        help="hosts of the generated fleet; 0 skips it (default 10000)")
    parser.add_argument("--diff-lines", type=int, default=12)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    base = Path(tempfile.mkdtemp(prefix="compare-reports-"))
    made: list[Path] = []
    try:
        old = _tree(args.old, base, "old")
        made.append(old)
        new = REPO
        if args.new is not None:
            new = _tree(args.new, base, "new")
            made.append(new)
        fleet = None
        if args.fleet_size > 0:
            from tests.gen_inventory import realistic_fleet, write_inventory

            written = write_inventory(realistic_fleet(args.fleet_size, seed=args.fleet_size),
                                      base / "fleet")
            fleet = written.inventory_dir
        differ = 0
        todo = jobs(fleet)
        print(f"old: {args.old}; new: {args.new or 'working tree'}; "
              f"fleet: {args.fleet_size} hosts; {len(todo)} outputs")
        for job in todo:
            a, b = run(old, job), run(new, job)
            if a == b:
                print(f"same  {job.name} (exit {a[0]})")
                continue
            differ += 1
            what = []
            if a[0] != b[0]:
                what.append(f"exit {a[0]} -> {b[0]}")
            if a[1] != b[1]:
                what.append("stdout")
            if a[2] != b[2]:
                what.append("stderr")
            print(f"DIFF  {job.name}: {', '.join(what)}")
            for stream, x, y in (("stdout", a[1], b[1]), ("stderr", a[2], b[2])):
                if x != y:
                    for line in short_diff(x, y, args.diff_lines):
                        print(f"        {stream} | {line}")
        print(f"{len(todo) - differ} same, {differ} different")
        return 1 if differ else 0
    finally:
        for tree in made:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                            str(tree)], check=False)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

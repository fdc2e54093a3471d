#!/usr/bin/env python3
"""Benchmark: ``mlflow-policy facts`` against ``ansible-inventory --list`` on big fleets.

Generates realistic MLflow fleets (``tests/gen_inventory.py:realistic_fleet``: nested
region > datacenter > rack groups plus role and team groups, group_vars for every group,
host_vars for a tenth of the hosts, Jinja2 references, vaulted secrets) of each size, then
times both tools on the same inventory as subprocesses writing to /dev/null. Wall time is
the best of N runs; peak RSS is the child's own ``ru_maxrss`` from ``os.wait4``.

    .venv/bin/python benchmarks/bench_facts.py                      # 1k, 10k, 50k
    .venv/bin/python benchmarks/bench_facts.py --sizes 1000,10000 --repeat 5
    .venv/bin/python benchmarks/bench_facts.py --ours api           # resolver only, no CLI
    .venv/bin/python benchmarks/bench_facts.py --check              # also time `check`

Targets printed next to the numbers: at 10k hosts, >= 8x faster than ansible-inventory
and at most its peak memory; at 50k, at most 6x the 10k time.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.gen_inventory import realistic_fleet, write_inventory  # noqa: E402
from tests.oracle import clean_env  # noqa: E402

BIN = Path(sys.executable).parent
OUT = REPO / "benchmarks" / "out"
TARGET_SPEEDUP_10K = 8.0
TARGET_SCALING_50K_10K = 6.0

# Resolver only, for profiling without the CLI's fact mapping and JSON rendering.
_API_SNIPPET = (
    "import sys; from pathlib import Path; "
    "from mlflow_policy.inventory import resolve_inventory; "
    "resolve_inventory(Path(sys.argv[1]))"
)


@dataclass
class Run:
    wall: float | None  # best wall time in seconds; None when it did not finish
    rss_mb: float | None  # peak RSS of the child (max over runs)
    note: str = ""


@dataclass
class Row:
    size: int
    files: int
    ours: Run
    ansible: Run | None = None
    checks: dict[str, Run] = field(default_factory=dict)  # policy pack name -> run
    extra: dict[str, str] = field(default_factory=dict)


def _tree_rss_kb(pid: int) -> int:
    """The summed RSS of ``pid`` and its descendants (shared pages counted once per
    process: an upper bound of what the tree really holds)."""
    total, todo = 0, [pid]
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    while todo:
        p = todo.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page_kb
            for task in os.listdir(f"/proc/{p}/task"):
                todo.extend(int(c) for c in
                            Path(f"/proc/{p}/task/{task}/children").read_text().split())
        except (OSError, ValueError, IndexError):
            continue  # it exited meanwhile
    return total


def measure(cmd: Sequence[str], cwd: Path, env: dict[str, str], timeout: float) -> Run:
    """One run: wall time and peak memory, output discarded. Memory is the larger of the
    child's own peak RSS (``os.wait4``, which also covers descendants it reaped, one at a
    time) and the summed RSS of the whole process tree, sampled every 20 ms: mlflow-policy
    writes a large report in two processes, and both count."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        os.killpg(proc.pid, signal.SIGKILL)

    timer = threading.Timer(timeout, kill)
    timer.start()
    # stderr is drained by a thread so a chatty child cannot block on a full pipe
    err_chunks: list[bytes] = []
    stderr = proc.stderr
    assert stderr is not None
    reader = threading.Thread(target=lambda: err_chunks.append(stderr.read()))
    reader.start()
    tree_peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            tree_peak[0] = max(tree_peak[0], _tree_rss_kb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    wall = time.perf_counter() - start
    timer.cancel()
    reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)  # we reaped it ourselves
    sampler.join()
    rss_mb = max(usage.ru_maxrss, tree_peak[0]) / 1024  # Linux: kilobytes
    if timed_out.is_set():
        return Run(None, rss_mb, f"> {timeout:.0f} s (killed)")
    if proc.returncode not in (0, 1):  # check exits 1 on findings
        stderr = b"".join(err_chunks).decode(errors="replace").strip()
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{stderr[-2000:]}")
    return Run(wall, rss_mb)


def best_of(cmd: Sequence[str], cwd: Path, env: dict[str, str], repeat: int,
            timeout: float) -> Run:
    runs = []
    for _ in range(repeat):
        run = measure(cmd, cwd, env, timeout)
        runs.append(run)
        if run.wall is None:  # do not wait for a timeout twice
            break
    walls = [r.wall for r in runs if r.wall is not None]
    rss = max(r.rss_mb for r in runs if r.rss_mb is not None)
    if not walls:
        return Run(None, rss, runs[-1].note)
    return Run(min(walls), rss, f"best of {len(walls)}")


def generate(size: int, base: Path) -> tuple[Path, Path, int]:
    """(inventory dir, empty playbook dir, file count) for a fleet of ``size`` hosts."""
    root = base / f"fleet-{size}"
    if root.exists():
        shutil.rmtree(root)
    written = write_inventory(realistic_fleet(size, seed=size), root)
    return written.inventory_dir, written.playbook_dir, len(written.files)


def ours_cmd(mode: str, inv: Path, pb: Path) -> list[str]:
    if mode == "api":
        return [sys.executable, "-c", _API_SNIPPET, str(inv)]
    return [str(BIN / "mlflow-policy"), "facts", "-i", str(inv), "--format", "json"]


def check_cmd(inv: Path, policies: Path) -> list[str]:
    # Hook for the engine's own benchmark: the whole `check` on the same fleet.
    return [str(BIN / "mlflow-policy"), "check", "-i", str(inv), "-p", str(policies),
            "--format", "json"]


def _fmt_time(run: Run | None) -> str:
    if run is None:
        return "skipped"
    return f"{run.wall:8.2f} s" if run.wall is not None else run.note


def _fmt_mem(run: Run | None) -> str:
    if run is None or run.rss_mb is None:
        return "-"
    return f"{run.rss_mb:7.0f} MB"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def report(rows: list[Row], with_check: bool) -> str:
    head = ["hosts", "files", "ours", "ours RSS", "ansible", "ansible RSS", "speedup",
            "mem ratio"]
    packs = sorted({name for r in rows for name in r.checks})
    if with_check:
        for name in packs:
            head += [f"check {name}", "RSS"]
    table = [head]
    for r in rows:
        speed = _ratio(r.ansible.wall if r.ansible else None, r.ours.wall)
        mem = _ratio(r.ours.rss_mb, r.ansible.rss_mb if r.ansible else None)
        line = [str(r.size), str(r.files), _fmt_time(r.ours), _fmt_mem(r.ours),
                _fmt_time(r.ansible), _fmt_mem(r.ansible),
                f"{speed:.1f}x" if speed else "-", f"{mem:.2f}" if mem else "-"]
        if with_check:
            for name in packs:
                run = r.checks.get(name)
                line += [_fmt_time(run), _fmt_mem(run)]
        table.append(line)
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = ["| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in table]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")

    by_size = {r.size: r for r in rows}
    lines.append("")
    ten = by_size.get(10_000)
    if ten and ten.ansible and ten.ansible.wall and ten.ours.wall:
        speed = ten.ansible.wall / ten.ours.wall
        ok = "PASS" if speed >= TARGET_SPEEDUP_10K else "FAIL"
        lines.append(f"10k speedup vs ansible-inventory: {speed:.1f}x "
                     f"(target >= {TARGET_SPEEDUP_10K:.0f}x) {ok}")
    if ten and ten.ansible and ten.ansible.rss_mb and ten.ours.rss_mb:
        ratio = ten.ours.rss_mb / ten.ansible.rss_mb
        ok = "PASS" if ratio <= 1.0 else "FAIL"
        lines.append(f"10k peak memory, ours / ansible: {ratio:.2f} (target <= 1.00) {ok}")
    for name in packs:
        run = ten.checks.get(name) if ten else None
        if ten and ten.ansible and ten.ansible.wall and run and run.wall:
            speed = ten.ansible.wall / run.wall
            ok = "PASS" if speed >= TARGET_SPEEDUP_10K else "FAIL"
            lines.append(f"10k check ({name} pack) vs ansible-inventory alone: {speed:.1f}x "
                         f"(target >= {TARGET_SPEEDUP_10K:.0f}x) {ok}")
    fifty = by_size.get(50_000)
    if ten and fifty and ten.ours.wall and fifty.ours.wall:
        scale = fifty.ours.wall / ten.ours.wall
        ok = "PASS" if scale <= TARGET_SCALING_50K_10K else "FAIL"
        lines.append(f"50k / 10k time, ours: {scale:.2f} "
                     f"(target <= {TARGET_SCALING_50K_10K:.0f}) {ok}")
        if fifty.ansible and fifty.ansible.wall and ten.ansible and ten.ansible.wall:
            lines.append(f"50k / 10k time, ansible-inventory: "
                         f"{fifty.ansible.wall / ten.ansible.wall:.2f}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--sizes", default="1000,10000,50000",
                   help="comma-separated host counts (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs per tool below 50k hosts; the best wall time counts")
    p.add_argument("--repeat-large", type=int, default=1,
                   help="runs per tool at 50k hosts and above (default: %(default)s)")
    p.add_argument("--skip-ansible-above", type=int, default=None, metavar="N",
                   help="do not run ansible-inventory on fleets bigger than N hosts")
    p.add_argument("--ansible-timeout", type=float, default=300,
                   help="kill ansible-inventory after this many seconds (default: 5 min)")
    p.add_argument("--ours", choices=("cli", "api"), default="cli",
                   help="time `mlflow-policy facts` (cli) or resolve_inventory() alone (api)")
    p.add_argument("--check", action="store_true",
                   help="also time `mlflow-policy check` with each --policies pack")
    p.add_argument("--policies", type=Path, action="append", default=None,
                   help="a policy directory for --check; repeatable (default: the starter "
                        "pack, which the engine's target names, and the baseline pack)")
    p.add_argument("--out", type=Path, default=OUT,
                   help="where fleets are generated (default: benchmarks/out, gitignored)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write raw numbers here")
    p.add_argument("--profile", type=Path, metavar="DIR",
                   help="also run ours once under cProfile per size, writing "
                        "DIR/facts-<size>.prof (read with python -m pstats)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.policies is None:
        args.policies = [REPO / "examples" / "starter" / "policies", REPO / "policies"]
    # A pip install compiles the package's bytecode (ansible-core's was, at install); an
    # editable install under PYTHONDONTWRITEBYTECODE never does, and would time the
    # compiler. Compile it, as an install would.
    compileall.compile_dir(str(REPO / "mlflow_policy"), quiet=1)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    args.out.mkdir(parents=True, exist_ok=True)
    ansible = BIN / "ansible-inventory"
    if not ansible.exists():
        found = shutil.which("ansible-inventory")
        ansible = Path(found) if found else ansible
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-home-") as home:
        env = clean_env(Path(home))
        for size in sizes:
            t0 = time.perf_counter()
            inv, pb, nfiles = generate(size, args.out)
            print(f"[{size} hosts] generated {nfiles} files in "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
            repeat = args.repeat if size < 50_000 else args.repeat_large
            cwd = inv.parent  # neutral: no config file, no group_vars beside cwd
            ours = best_of(ours_cmd(args.ours, inv, pb), cwd, env, repeat, timeout=3600)
            print(f"[{size} hosts] ours {_fmt_time(ours)} {_fmt_mem(ours)}",
                  file=sys.stderr, flush=True)
            row = Row(size, nfiles, ours)
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                prof = args.profile.resolve() / f"facts-{size}.prof"
                cmd = ours_cmd(args.ours, inv, pb)
                if args.ours == "cli":  # the console script is a Python file
                    cmd = [sys.executable, *cmd]
                cmd[1:1] = ["-m", "cProfile", "-o", str(prof)]
                measure(cmd, cwd, env, timeout=3600)
                print(f"[{size} hosts] profile written to {prof}", file=sys.stderr)
            if args.skip_ansible_above is None or size <= args.skip_ansible_above:
                cmd = [str(ansible), "-i", str(inv), "--list", "--playbook-dir", str(pb)]
                row.ansible = best_of(cmd, cwd, env, repeat, args.ansible_timeout)
                print(f"[{size} hosts] ansible {_fmt_time(row.ansible)} "
                      f"{_fmt_mem(row.ansible)}", file=sys.stderr, flush=True)
            if args.check:
                for pack in args.policies:
                    name = "baseline" if pack.resolve() == (REPO / "policies").resolve() \
                        else pack.resolve().parent.name if pack.name == "policies" else pack.name
                    row.checks[name] = best_of(check_cmd(inv, pack.resolve()), cwd, env,
                                               repeat, timeout=3600)
                    print(f"[{size} hosts] check ({name}) {_fmt_time(row.checks[name])} "
                          f"{_fmt_mem(row.checks[name])}", file=sys.stderr, flush=True)
            rows.append(row)
    print(f"mlflow-policy {'facts --format json' if args.ours == 'cli' else 'resolver API'}"
          f" vs ansible-inventory --list; {os.cpu_count()} CPUs, python "
          f"{sys.version.split()[0]}")
    print(report(rows, args.check))
    if args.json:
        args.json.write_text(json.dumps([
            {"size": r.size, "files": r.files,
             **{f"{k}_{m}": getattr(getattr(r, k), m) if getattr(r, k) else None
                for k in ("ours", "ansible") for m in ("wall", "rss_mb")},
             **{f"check_{name}_{m}": getattr(run, m) for name, run in r.checks.items()
                for m in ("wall", "rss_mb")}}
            for r in rows], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

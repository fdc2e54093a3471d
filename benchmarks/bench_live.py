#!/usr/bin/env python3
"""Benchmark: live gathering against ``ansible -m setup`` on the same loopback hosts.

Stands up the test fleet (tests/fleet: sshd per host, real MLflow environments, a real
PostgreSQL and ``mlflow server``), then, interleaved in one run so that the machine's load
is the same for both:

1. ``mlflow_policy.live.driver.gather`` over the fleet's reachable hosts against
   ``ansible <same hosts> -m setup`` (the cost of Ansible's own fact gathering), same
   forks, median of ``--repeat`` runs each; target: ours at most half its time;
2. gathering 50 loopback hosts (50 more sshd instances, mlflow-skinny clients) with
   ``--forks 25``: wall time and peak memory of the controller side (this process plus
   ansible-playbook and its forks, summed, sampled every 50 ms; the hosts' sshd sessions
   and module processes are not counted).

    .venv/bin/python benchmarks/bench_live.py [--repeat 3] [--hosts 50] [--forks 25]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fleet import fleet as fleet_mod  # noqa: E402
from tests.fleet import sshd, venvs  # noqa: E402


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _tree(root: int, stop_at: set[int]) -> list[int]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(c for c in kids.get(p, []) if c not in stop_at)
    return out


class PeakMemory:
    """Peak of the summed RSS of this process and its descendants, hosts excluded."""

    def __init__(self, exclude: set[int]) -> None:
        self.exclude = exclude
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = sum(_rss_kb(p) for p in _tree(os.getpid(), self.exclude))
            self.peak_kb = max(self.peak_kb, total)
            time.sleep(0.05)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def time_ours(inventory: Path, hosts: list[str], forks: int, timeout: int) -> tuple[float, int]:
    from mlflow_policy.live.driver import LiveOptions, gather

    t0 = time.perf_counter()
    results = gather([inventory], LiveOptions(forks=forks, timeout=timeout,
                                              limit=",".join(hosts)), expected_hosts=hosts)
    elapsed = time.perf_counter() - t0
    ok = sum(r.ok for r in results)
    failures = [f"{r.inventory_hostname}: {r.status}: {r.failure}" for r in results if not r.ok]
    if failures:
        print(f"  ({len(failures)} failed, e.g. {failures[0][:300]})", flush=True)
    return elapsed, ok


def time_setup(inventory: Path, hosts: list[str], forks: int, timeout: int,
               env: dict[str, str]) -> tuple[float, int]:
    ansible = Path(sys.executable).with_name("ansible")
    t0 = time.perf_counter()
    done = subprocess.run(
        [str(ansible), "-i", str(inventory), ",".join(hosts), "-m", "setup", "--forks",
         str(forks), "-T", str(timeout), "-o"],
        env=env, capture_output=True, text=True, timeout=600, check=False)
    elapsed = time.perf_counter() - t0
    ok = done.stdout.count("| SUCCESS")
    return elapsed, ok


def add_hosts(fl: fleet_mod.Fleet, n: int) -> tuple[Path, list[str], list[sshd.Sshd]]:
    """``n`` more loopback hosts, each its own sshd, root and env file, all mlflow-skinny
    clients of the current version."""
    keys = fl.base / "keys"
    daemons, hosts = [], {}
    skinny = venvs.ensure(venvs.SKINNY_CURRENT)
    for i in range(n):
        name = f"bench-{i:02d}"
        root = fl.base / "bench" / name / "root"
        link = root / "opt" / "mlflow" / "venv"
        link.parent.mkdir(parents=True)
        link.symlink_to(skinny)
        env_file = root / "etc" / "default" / "mlflow"
        env_file.parent.mkdir(parents=True)
        env_file.write_text(f"MLFLOW_TRACKING_URI=http://127.0.0.1:{fl.server_port}\n")
        d = sshd.start(name, fl.base / "bench" / name / "sshd", keys / "host_ed25519",
                       keys / "authorized_keys")
        daemons.append(d)
        hosts[name] = {"ansible_port": d.port, "mlflow_python": str(link / "bin" / "python"),
                       "mlflow_env_file": str(env_file)}
    base_vars = json.loads((fl.inventory / "hosts.yml").read_text())["all"]["vars"]
    inv = fl.base / "bench-inventory"
    inv.mkdir()
    (inv / "hosts.yml").write_text(json.dumps({"all": {"vars": base_vars, "hosts": hosts}}))
    return inv, sorted(hosts), daemons


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--forks", type=int, default=25)
    ap.add_argument("--timeout", type=int, default=30)
    ap.add_argument("--hosts-only", action="store_true",
                    help="only the side-by-side with ansible -m setup (no 50-host run)")
    args = ap.parse_args()

    base = Path(tempfile.mkdtemp(prefix="mlflow-policy-bench-live-"))
    t0 = time.perf_counter()
    fl = fleet_mod.build(base)
    print(f"fleet up in {time.perf_counter() - t0:.1f}s: {', '.join(fl.hosts)}", flush=True)
    daemons: list[sshd.Sshd] = []
    old_env = dict(os.environ)
    os.environ.update(fl.ansible_env)
    os.chdir(base)
    try:
        reachable = fl.reachable
        forks = len(reachable)
        # warm-up: first connections, page cache
        time_ours(fl.inventory, reachable, forks, args.timeout)
        time_setup(fl.inventory, reachable, forks, args.timeout, fl.ansible_env)
        ours, theirs = [], []
        for _ in range(args.repeat):
            ours.append(time_ours(fl.inventory, reachable, forks, args.timeout))
            theirs.append(time_setup(fl.inventory, reachable, forks, args.timeout,
                                     fl.ansible_env))
        o = statistics.median(t for t, _ in ours)
        s = statistics.median(t for t, _ in theirs)
        print(f"\n{len(reachable)} reachable fleet hosts, forks {forks}, median of "
              f"{args.repeat} (interleaved):")
        print(f"  mlflow-policy live gather: {o:6.2f}s  (runs: "
              f"{', '.join(f'{t:.2f}' for t, _ in ours)}; hosts ok {ours[-1][1]})")
        print(f"  ansible -m setup:          {s:6.2f}s  (runs: "
              f"{', '.join(f'{t:.2f}' for t, _ in theirs)}; hosts ok {theirs[-1][1]})")
        print(f"  ratio ours/setup: {o / s:.2f} (target <= 0.50: "
              f"{'met' if o / s <= 0.5 else 'NOT met'})", flush=True)

        if args.hosts_only:
            return 0
        inv, hosts, daemons = add_hosts(fl, args.hosts)
        # the hosts' side (every sshd, postgres, mlflow server we started) is not counted
        exclude = {d.proc.pid for d in daemons} | set(_fleet_pids())
        with PeakMemory(exclude) as mem:
            elapsed, ok = time_ours(inv, hosts, args.forks, args.timeout)
        print(f"\n{args.hosts} loopback hosts, forks {args.forks}: {elapsed:.2f}s, "
              f"{ok} ok, peak controller memory {mem.peak_kb / 1024:.0f} MiB "
              f"(this process {_self_peak_mib():.0f} MiB)")
    finally:
        os.environ.clear()
        os.environ.update(old_env)
        for d in daemons:
            d.stop()
        fl.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


def _fleet_pids() -> list[int]:
    """Direct children of this process that serve the fleet (sshd, postgres, mlflow)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmd = (entry / "cmdline").read_bytes()
            except (OSError, ValueError, IndexError):
                continue
            if ppid == os.getpid() and (b"sshd" in cmd or b"postgres" in cmd
                                         or b"mlflow" in cmd):
                out.append(int(entry.name))
    return out


def _self_peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    raise SystemExit(main())

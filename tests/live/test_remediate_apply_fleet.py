"""``remediate --live --apply --yes`` on real hosts (issue 13, "Must show"): ``check --live``
finds the seeded drift, the apply fixes it (the behind client's environment really gets the
pinned mlflow-skinny, the drifted env file really changes), the same playbook applied a
second time changes nothing (check mode first), and ``check --live`` afterwards reports
none of the remediated findings. Nothing else on the hosts changes, the fleet's cached
environments are never touched, and no secret appears in any output.

The hosts ride on the session fleet's sshd daemons (tests/fleet), with roots of their own
here: each host's MLflow environment is a copy of a cached one (``cp -a``; with pip, which
the playbook's pip task runs as ``python -m pip``), so the apply writes only into this
test's directory. Timings of each step go to stderr (``pytest -s``).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live.conftest import GATHER_TIMEOUT
from tests.live.session import cli, enter_fleet, findings_of
from tests.support import REPO

pytestmark = pytest.mark.slow

POLICY = REPO / "tests" / "fixtures" / "apply" / "policy"
DRIFT = "mlflow-policy/drift"
LIVE_IDS = (DRIFT, "mlflow-policy/unreachable")
TOKEN = "apply-Token-3f0c2a"
PASSWORD = "apply-Passw0rd-d81e44"
# host -> (fleet host whose sshd it rides on, cached environment it copies)
HOSTS = {"app-behind": "client-behind", "app-envdrift": "client-envdrift"}
SEEDED = {(DRIFT, "app-behind", "mlflow.version"),
          (DRIFT, "app-envdrift", "env.MLFLOW_TRACKING_URI")}


def snapshot(root: Path, skip: set[Path]) -> dict[str, tuple[int, ...]]:
    """Every path under a host root except ``skip`` (and what is under them): files with
    size, mtime and mode, directories and links with their mode (a directory's mtime
    changes when a file in it is replaced atomically; a new file shows up by name)."""
    out: dict[str, tuple[int, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if Path(dirpath, d) not in skip]
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            if p in skip:
                continue
            st = p.lstat()
            rel = str(p.relative_to(root))
            out[rel] = ((st.st_mode,) if p.is_dir() or p.is_symlink()
                        else (st.st_size, st.st_mtime_ns, st.st_mode))
    return out


def cache_state(venv: Path) -> dict[str, int]:
    """A cached environment's scripts and installed packages, with their mtimes (an
    install or uninstall adds, removes or replaces entries there)."""
    site = next((venv / "lib").glob("python3*/site-packages"))
    return {str(p.relative_to(venv)): p.lstat().st_mtime_ns
            for d in (site, venv / "bin", venv) for p in d.iterdir()}


def version(python: Path) -> str:
    done = subprocess.run(
        [str(python), "-c",
         "import importlib.metadata as m; print(m.version('mlflow-skinny'))"],
        capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip()


def _write_env(path: Path, env: dict[str, str]) -> None:
    path.write_text("# written by the apply test\n" + "".join(
        f"{k}={json.dumps(v)}\n" for k, v in env.items()))


@pytest.fixture(scope="module")
def flow(fleet: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from mlflow_policy.remediate import apply as ap
    from tests.fleet import venvs

    base = tmp_path_factory.mktemp("apply-fleet")
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    tracking = f"http://127.0.0.1:{fleet.server_port}"
    cached = {"app-behind": venvs.ensure(venvs.SKINNY_BEHIND),
              "app-envdrift": venvs.ensure(venvs.SKINNY_CURRENT)}
    cache_before = {n: cache_state(v) for n, v in cached.items()}  # before any copy
    declared = {"app-behind": {"MLFLOW_TRACKING_URI": tracking, "MLFLOW_TRACKING_TOKEN": TOKEN},
                "app-envdrift": {"MLFLOW_TRACKING_URI": tracking,
                                 "MLFLOW_TRACKING_PASSWORD": PASSWORD}}
    on_host = {"app-behind": dict(declared["app-behind"]),
               "app-envdrift": {**declared["app-envdrift"],
                                "MLFLOW_TRACKING_URI": "http://127.0.0.1:1/old"}}
    fleet_vars = json.loads((fleet.inventory / "hosts.yml").read_text())["all"]["vars"]
    roots, pythons, env_files, hosts = {}, {}, {}, {}
    for name, rides_on in HOSTS.items():
        root = base / "hosts" / name / "root"
        venv = root / "opt" / "mlflow" / "venv"
        venv.parent.mkdir(parents=True)
        # the host's own environment: the apply must never write into the fleet's cache
        subprocess.run(["cp", "-a", str(cached[name]), str(venv)], check=True, timeout=600)
        (venv / ".complete").unlink(missing_ok=True)  # the cache's marker, not this copy's
        if not (venv / "bin" / "pip").exists():  # the playbook's pip task runs python -m pip
            subprocess.run([sys.executable, "-m", "pip", "--python",
                            str(venv / "bin" / "python"), "install", "-q",
                            "--disable-pip-version-check", "pip"],
                           check=True, capture_output=True, timeout=900)
        env_file = root / "etc" / "default" / "mlflow"
        env_file.parent.mkdir(parents=True)
        _write_env(env_file, on_host[name])
        roots[name], pythons[name], env_files[name] = root, venv / "bin" / "python", env_file
        hosts[name] = {
            "ansible_port": fleet.hosts[rides_on].port,
            "mlflow_role": "client",
            "mlflow_version": venvs.CURRENT,
            "mlflow_package": "mlflow-skinny",
            "mlflow_python": str(venv / "bin" / "python"),
            "mlflow_env_file": str(env_file),
            "mlflow_env": declared[name],
        }
    inventory = base / "apply"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text(json.dumps(
        {"all": {"vars": fleet_vars, "children": {"clients": {"hosts": hosts}}}}, indent=2))
    timings["hosts set up (2 environment copies)"] = time.monotonic() - t0

    temp = base / "temp"
    temp.mkdir()
    work = base / "cwd"
    work.mkdir()
    restore = enter_fleet(fleet, temp, work)
    inv, knobs = str(inventory), ["--timeout", str(GATHER_TIMEOUT)]
    skip = {p for n in HOSTS for p in (env_files[n], roots[n] / "opt" / "mlflow" / "venv")}
    out: dict[str, Any] = {"std": [], "timings": timings, "env_files": env_files,
                           "cache_before": cache_before,
                           "versions_before": {n: version(p) for n, p in pythons.items()},
                           "env_before": {n: f.read_text() for n, f in env_files.items()},
                           "roots_before": {n: snapshot(r, skip) for n, r in roots.items()}}
    try:
        t = time.monotonic()
        code, so, se = cli(["check", "--live", "-i", inv, "-p", str(POLICY), *knobs,
                             "--format", "json"])
        timings["check --live (before)"] = time.monotonic() - t
        out["check_before"] = (code, so)
        out["std"] += [so, se]

        t = time.monotonic()
        code, so, se = cli(["remediate", "--live", "-i", inv, "-p", str(POLICY), *knobs,
                             "--out", "remediation", "--apply", "--yes", "--format", "json"])
        timings["remediate --live --apply --yes (gather, check, apply, re-check)"] = \
            time.monotonic() - t
        out["apply"] = (code, so, se)
        out["std"] += [so, se]
        out["versions_after"] = {n: version(p) for n, p in pythons.items()}
        out["env_after"] = {n: f.read_text() for n, f in env_files.items()}
        out["rendered"] = {str(p.relative_to(work)): p.read_text(errors="replace")
                           for p in (work / "remediation").rglob("*") if p.is_file()}
        kept = base / "first-remediation"
        shutil.copytree(work / "remediation", kept)

        # the same playbook again: check mode first, then the real run, changing nothing
        t = time.monotonic()
        shown = io.StringIO()
        out["second"] = ap.apply(kept / "playbook.yml", [inventory], sorted(HOSTS),
                                 options=ap.ApplyOptions(timeout=GATHER_TIMEOUT), yes=True,
                                 show=shown)
        timings["second apply of the same playbook (check + run)"] = time.monotonic() - t
        out["second_shown"] = shown.getvalue()
        out["std"] += [shown.getvalue(), json.dumps(out["second"].to_json())]

        t = time.monotonic()
        code, so, se = cli(["check", "--live", "-i", inv, "-p", str(POLICY), *knobs,
                             "--format", "json"])
        timings["check --live (after)"] = time.monotonic() - t
        out["check_after"] = (code, so)
        out["std"] += [so, se]
        out["env_final"] = {n: f.read_text() for n, f in env_files.items()}
        out["roots_after"] = {n: snapshot(r, skip) for n, r in roots.items()}
        out["cache_after"] = {n: cache_state(v) for n, v in cached.items()}
        out["temp_left"] = sorted(temp.rglob("*"))
        timings["total"] = time.monotonic() - t0
        print("\napply fleet test timings:\n" + "\n".join(
            f"  {v:7.1f}s  {k}" for k, v in timings.items()), file=sys.stderr)
        yield out
    finally:
        restore()


def _live(report: str) -> set[tuple[str, str, str | None]]:
    return findings_of(report, LIVE_IDS)


def test_check_live_finds_the_seeded_drift(flow: dict[str, Any]) -> None:
    _code, report = flow["check_before"]
    assert _live(report) == SEEDED


def test_apply_fixes_the_behind_client_and_the_env_file(flow: dict[str, Any]) -> None:
    from tests.fleet import venvs

    code, report, err = flow["apply"]
    assert code == 0, err
    doc = json.loads(report)["apply"]
    assert doc["applied"] is True
    assert doc["stopped"] is None
    for host in HOSTS:
        recap = doc["hosts"][host]
        assert recap["changed"] >= 1, (host, recap)
        assert recap["failed"] == 0
        assert recap["unreachable"] == 0
    # check mode ran first and said what would change, and changed nothing by itself
    would = {(c["host"], c["task"]) for c in doc["check"]["changes"]}
    assert ("app-behind", "Pin the MLflow distribution in the host's MLflow environment") \
        in would
    assert ("app-envdrift", "Write the MLflow environment file") in would
    assert err.index("== check mode") < err.index("== apply")
    # the re-check of the remediated hosts finds none of the remediated findings
    assert doc["recheck"]["hosts"] == sorted(HOSTS)
    assert doc["recheck"]["remaining"] == []
    assert "none of the remediated findings remain" in err

    assert flow["versions_before"] == {"app-behind": venvs.BEHIND,
                                       "app-envdrift": venvs.CURRENT}
    assert flow["versions_after"] == {"app-behind": venvs.CURRENT,
                                      "app-envdrift": venvs.CURRENT}
    before, after = flow["env_before"]["app-envdrift"], flow["env_after"]["app-envdrift"]
    assert "http://127.0.0.1:1/old" in before
    assert "http://127.0.0.1:1/old" not in after
    assert PASSWORD in after  # the inventory's secret is written on the host, nowhere else
    assert flow["env_after"]["app-behind"] == flow["env_before"]["app-behind"]


def test_second_apply_runs_check_mode_first_and_changes_nothing(flow: dict[str, Any]) -> None:
    second = flow["second"]
    assert second.check_run.check
    assert second.check_run.changes == ()
    assert second.real_run is not None
    assert {h: r.changed for h, r in second.real_run.hosts.items()} == {
        "app-behind": 0, "app-envdrift": 0}
    assert second.real_run.bad_hosts == []
    assert second.exit_code == 0
    assert second.to_json()["hosts"] == {h: {"changed": 0, "ok": r.ok, "failed": 0,
                                             "unreachable": 0}
                                         for h, r in second.real_run.hosts.items()}
    assert "== check mode" in flow["second_shown"]
    assert flow["env_final"] == flow["env_after"]


def test_check_live_afterwards_reports_none_of_the_remediated_findings(
        flow: dict[str, Any]) -> None:
    _code, report = flow["check_after"]
    assert _live(report) & SEEDED == set()
    assert _live(report) == set()


def test_nothing_else_on_the_hosts_changes(flow: dict[str, Any]) -> None:
    for host in HOSTS:
        assert flow["roots_after"][host] == flow["roots_before"][host], host


def test_cached_environments_are_untouched(flow: dict[str, Any]) -> None:
    assert flow["cache_after"] == flow["cache_before"]


def test_no_secret_in_any_output(flow: dict[str, Any], fleet: Any) -> None:
    texts = [*flow["std"], *flow["rendered"].values()]
    for secret in (TOKEN, PASSWORD, *fleet.secrets):
        for text in texts:
            assert secret not in text
    # runner's private directories are gone (they held the environment, every result)
    assert flow["temp_left"] == []

"""Live gathering through ansible-runner: the shipped playbook over the user's inventory.

The inventory is handed to Ansible as it is (connection variables, SSH settings, plugins
and scripts work as in the user's own playbooks). Results come back through runner events,
never its fact cache. Everything runner writes (the full environment in
``artifacts/*/command``, event data holding observed secrets) lives in a private 0700
temporary directory that is removed when the run ends: normally, on error, and on Ctrl-C
(the run is cancelled first, so Ansible's processes are gone before the directory is).

ansible-runner and Ansible are imported only here, inside :func:`run_private` (which
``remediate --apply`` runs its playbook through too).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow_policy.errors import PolicyError
from mlflow_policy.live.progress import Progress
from mlflow_policy.live.result import LiveHostResult, Status, failed, from_module_result

MODULE = "mlflow_policy_facts"
DECLARED_KEY = "mlflow_policy_declared"  # as in action_plugins/mlflow_policy_facts.py
PLAYBOOK = Path(__file__).with_name("ansible") / "gather.yml"
TERMINAL = ("runner_on_ok", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped")
DEFAULT_FORKS = 10
DEFAULT_TIMEOUT = 30


class LiveError(PolicyError):
    """The live run as a whole could not happen (no Ansible, a bad inventory...): exit 2."""


@dataclass(frozen=True)
class LiveOptions:
    """How to run: Ansible's knobs plus the hostvar names of the facts the module needs.

    ``timeout`` bounds each host, connecting plus gathering, in seconds.
    """

    forks: int = DEFAULT_FORKS
    timeout: int = DEFAULT_TIMEOUT
    limit: str | None = None
    python_var: str = "mlflow_python"
    env_file_var: str = "mlflow_env_file"
    server_url_var: str = "mlflow_server_url"
    http_timeout: float = 3.0
    db_timeout: float = 5.0
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # hostvars whose declared values Ansible returns with each result (an inventory our
    # resolver cannot read: see action_plugins/mlflow_policy_facts.py)
    declared_vars: tuple[str, ...] = ()


@dataclass
class _Collected:
    """What the event handler saw (runs on runner's thread: keep it trivial)."""

    results: dict[str, tuple[str, Mapping[str, Any], str | None, float]] = field(
        default_factory=dict)
    started: set[str] = field(default_factory=set)
    messages: list[str] = field(default_factory=list)


def env_names() -> list[str]:
    """Variables MLflow reads without the ``MLFLOW_`` prefix, kept from a server's
    environment besides every ``MLFLOW_*`` one (the rest of it is not MLflow's)."""
    from mlflow_policy import catalogue

    return sorted(n for n in catalogue.env_vars()
                  if not n.startswith(("MLFLOW_", "_")))


def ansible_playbook(error: type[PolicyError] = LiveError, needs: str = "live mode") -> str:
    """The ansible-playbook to run (on PATH, else beside our interpreter); ``error`` with
    ``needs`` naming the feature when there is none."""
    found = shutil.which("ansible-playbook")
    if found:
        return found
    beside = Path(sys.executable).parent / "ansible-playbook"
    if beside.exists():
        return str(beside)
    raise error(f"ansible-playbook is not installed: {needs} needs Ansible "
                "(pip install 'mlflow-policy[live]')")


def inventory_paths(inventories: Sequence[str | Path],
                    error: type[PolicyError] = LiveError) -> list[str]:
    """The inventories as absolute paths for runner, each checked to exist: runner writes a
    string that is not an existing path as INI text."""
    paths = []
    for inv in inventories:
        p = Path(inv)
        if not p.exists():
            raise error(f"inventory not found: {inv}")
        paths.append(str(p.resolve()))
    return paths


def require_runner(error: type[PolicyError] = LiveError) -> None:
    """ansible-runner is importable (imported here, never at module level)."""
    try:
        import ansible_runner  # noqa: F401
    except ImportError as exc:
        raise error("ansible-runner is not installed: pip install "
                    "'mlflow-policy[live]'") from exc


def _config_file(cwd: Path) -> Path | None:
    """The ansible.cfg the user's own ansible-playbook would read when run from ``cwd``
    (Ansible's lookup order; a world-writable cwd's file is ignored, as Ansible does)."""
    env = os.environ.get("ANSIBLE_CONFIG")
    if env:
        p = Path(os.path.expanduser(env))
        p = p / "ansible.cfg" if p.is_dir() else p
        return p if p.is_file() else None
    local = cwd / "ansible.cfg"
    if local.is_file() and not (cwd.stat().st_mode & 0o002):
        return local
    for candidate in (Path.home() / ".ansible.cfg", Path("/etc/ansible/ansible.cfg")):
        if candidate.is_file():
            return candidate
    return None


def ansible_settings(cwd: Path) -> dict[str, str]:
    """ANSIBLE_CONFIG and ANSIBLE_HOST_KEY_CHECKING as the user's own ansible-playbook run
    from ``cwd`` would have them: runner runs Ansible elsewhere (so it would not find a
    ./ansible.cfg) and forces host key checking off unless told (we do not). Read without
    importing Ansible (a second or more of a live run's start)."""
    import configparser

    out: dict[str, str] = {}
    cfg = _config_file(cwd)
    if cfg is not None:
        out["ANSIBLE_CONFIG"] = str(cfg.resolve())
    if "ANSIBLE_HOST_KEY_CHECKING" not in os.environ:
        value = True  # Ansible's default
        if cfg is not None:
            parser = configparser.ConfigParser(interpolation=None, strict=False)
            try:
                parser.read(cfg, encoding="utf-8")
                value = parser.getboolean("defaults", "host_key_checking", fallback=True)
            except (configparser.Error, ValueError, OSError):
                value = True
        out["ANSIBLE_HOST_KEY_CHECKING"] = "True" if value else "False"
    return out


def gather(inventories: Sequence[str | Path], options: LiveOptions | None = None,
           expected_hosts: Iterable[str] | None = None,
           progress: Progress | None = None) -> list[LiveHostResult]:
    """Gather every host of ``inventories`` (within ``options.limit``); one result per host,
    sorted by inventory hostname. Hosts named in ``expected_hosts`` that Ansible never
    reported are failures too (a limit matching nothing yields no event at all)."""
    opts = options or LiveOptions()
    if opts.forks < 1 or opts.timeout < 1:
        raise LiveError("--forks and --timeout must be at least 1")
    paths = inventory_paths(inventories)
    playbook = ansible_playbook()
    require_runner()

    expected = sorted(set(expected_hosts or ()))
    bar = progress if progress is not None else Progress(len(expected) or None)
    seen = _Collected()
    lock = threading.Lock()

    def on_event(event: Mapping[str, Any]) -> bool:
        name = event.get("event")
        data = event.get("event_data") or {}
        # when Ansible's callback saw the result (the handler runs a little later)
        received = _timestamp(data.get("end")) or time.time()
        if name in TERMINAL and data.get("task_action") == MODULE:
            host = str(data.get("host"))
            with lock:
                if host not in seen.results:
                    seen.results[host] = (str(name), data.get("res") or {},
                                          data.get("remote_addr"), received)
                    bar.host_done(name != "runner_on_ok")
        elif name == "runner_on_start" and data.get("task_action") == MODULE:
            seen.started.add(str(data.get("host")))
        elif name in ("error", "verbose", "warning") or (
                name == "playbook_on_no_hosts_matched"):
            text = str(event.get("stdout") or "").strip()
            if text and len(seen.messages) < 50:
                seen.messages.append(text)
        return False  # nothing written to job_events/: the data holds secrets

    envvars = {"ANSIBLE_TIMEOUT": str(max(1, opts.timeout - 1)), **opts.extra_env}
    extravars = {
        "mlflow_policy_write_results": False,
        "mlflow_policy_withhold_secrets": False,
        "mlflow_policy_timeout": opts.timeout,
        "mlflow_policy_python_var": opts.python_var,
        "mlflow_policy_env_file_var": opts.env_file_var,
        "mlflow_policy_server_url_var": opts.server_url_var,
        "mlflow_policy_http_timeout": opts.http_timeout,
        "mlflow_policy_db_timeout": opts.db_timeout,
        "mlflow_policy_env_names": env_names(),
    }
    if opts.declared_vars:
        extravars["mlflow_policy_declared_vars"] = sorted(set(opts.declared_vars))
    # the whole run's backstop: every batch of forks at most one timeout, plus start-up
    batches = max(1, -(-max(1, len(expected)) // opts.forks))
    backstop = batches * (opts.timeout + 5) + 60 if expected else None

    try:
        status, rc = run_private(
            PLAYBOOK, paths, ansible_playbook=playbook, prefix="mlflow-policy-live-",
            ident="gather", limit=opts.limit, forks=opts.forks, envvars=envvars,
            extravars=extravars, on_event=on_event, timeout=backstop, tick=bar.tick)
    finally:
        bar.close()

    return _results(seen, expected, status, rc, opts)


def run_private(playbook: Path, inventories: list[str], *, ansible_playbook: str,
                prefix: str, ident: str, limit: str | None, forks: int,
                envvars: Mapping[str, str], on_event: Callable[[Mapping[str, Any]], bool],
                timeout: int | None, tick: Callable[[], None] | None = None,
                extravars: Mapping[str, Any] | None = None,
                cmdline: str | None = None) -> tuple[Any, int | None]:
    """One ansible-playbook run through ansible-runner in a private 0700 directory that is
    removed afterwards, also on Ctrl-C (the run's artifacts hold the whole environment);
    runner's (status, rc). ``envvars`` go over the user's own Ansible settings (their
    ansible.cfg, host key checking). Gathering and ``remediate --apply`` both run here."""
    import ansible_runner

    cwd = Path.cwd()
    env = {**ansible_settings(cwd), "ANSIBLE_RETRY_FILES_ENABLED": "False",
           "ANSIBLE_NOCOLOR": "1", **envvars}
    beside = str(Path(ansible_playbook).parent)
    if beside not in os.environ.get("PATH", "").split(os.pathsep):
        env["PATH"] = beside + os.pathsep + os.environ.get("PATH", "")
    cancel = threading.Event()
    pdd = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        pdd.chmod(0o700)
        (pdd / "env").mkdir(mode=0o700)
        # read even with suppress_env_files: keep Ansible's stdout out of the artifacts
        # (pexpect_timeout: how often runner checks for a cancel, i.e. Ctrl-C latency)
        (pdd / "env" / "settings").write_text(json.dumps(
            {"suppress_output_file": True, "suppress_ansible_output": True,
             "pexpect_timeout": 1}))
        thread, runner = ansible_runner.run_async(
            private_data_dir=str(pdd),
            playbook=str(playbook.resolve()),
            # Ansible runs in the user's directory (relative paths of their ansible.cfg and
            # inventory resolve as in their own runs); runner writes nothing there
            project_dir=str(cwd),
            inventory=inventories,
            limit=limit,
            forks=forks,
            extravars=dict(extravars) if extravars is not None else None,
            cmdline=cmdline,
            envvars=env,
            quiet=True,
            suppress_env_files=True,
            event_handler=on_event,
            cancel_callback=cancel.is_set,
            timeout=timeout,
            ident=ident,
        )
        try:
            while thread.is_alive():
                thread.join(0.2)
                if tick is not None:
                    tick()
        except BaseException:
            # Ansible's workers run in sessions of their own (setsid): runner's SIGKILL of
            # ansible-playbook's group would orphan them. SIGINT lets ansible-playbook stop
            # them first; what is left of the run after runner's kill is killed here.
            leftover = _interrupt_ansible()
            cancel.set()
            thread.join(30)
            _kill(leftover)
            raise
        return runner.status, runner.rc
    finally:
        shutil.rmtree(pdd, ignore_errors=True)


def proc_children() -> dict[int, list[int]]:
    """Every process's children, by parent pid, from /proc (a snapshot)."""
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text(errors="replace")
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _interrupt_ansible(wait: float = 5.0) -> list[int]:
    """SIGINT our ansible-playbook child and wait a little for it to stop its workers;
    the pids of its whole process tree as it was (for :func:`_kill`)."""
    import signal

    if not Path("/proc").is_dir():
        return []
    kids = proc_children()
    mains = []
    for pid in kids.get(os.getpid(), []):
        try:
            if b"ansible-playbook" in Path(f"/proc/{pid}/cmdline").read_bytes():
                mains.append(pid)
        except OSError:
            continue
    tree, todo = [], list(mains)
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(kids.get(pid, []))
    for pid in mains:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and any(_alive(p) for p in mains):
        time.sleep(0.1)
    return tree


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _kill(pids: list[int]) -> None:
    """SIGKILL what is left of a cancelled run, except ssh: a ControlPersist master
    outlives every run by design (the user's SSH settings)."""
    import signal

    for pid in pids:
        try:
            if os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "ssh":
                continue
        except OSError:
            continue
        if _alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _timestamp(value: Any) -> float | None:
    from datetime import datetime

    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _results(seen: _Collected, expected: list[str], status: str, rc: int | None,
             opts: LiveOptions) -> list[LiveHostResult]:
    from dataclasses import replace

    from mlflow_policy.secrets import mask_text

    out: dict[str, LiveHostResult] = {}
    for host, (event, res, addr, received) in seen.results.items():
        out[host] = result_from_event(host, event, res, addr, received, opts=opts)
        declared = res.get(DECLARED_KEY)
        if isinstance(declared, Mapping):
            out[host] = replace(out[host], declared=declared)
    missing = [h for h in expected if h not in out]
    if not out and not missing and status != "successful":
        detail = "\n".join(seen.messages[-5:])
        raise LiveError(mask_text(f"ansible-playbook failed ({status}, rc {rc})"
                                  + (f":\n{detail}" if detail else "")))
    for host in missing:
        if status == "timeout" or host in seen.started:
            out[host] = failed(host, None, "timeout",
                               f"no result within the run's time limit ({status})")
        else:
            why = "; ".join(seen.messages[-2:]) or f"ansible-playbook ended {status}"
            out[host] = failed(host, None, "failed", f"not gathered: {why}")
    return [out[h] for h in sorted(out)]


def result_from_event(host: str, event: str, res: Mapping[str, Any], addr: str | None,
                      received: float | None, *, opts: LiveOptions | None = None
                      ) -> LiveHostResult:
    """One host's result from its terminal event for the gather task (pure: tested on
    recorded events too)."""
    if event == "runner_on_ok":
        return from_module_result(host, addr, res, received)
    if event == "runner_on_skipped":
        var = opts.python_var if opts else "mlflow_python"
        return failed(host, addr, "failed",
                      f"no MLflow interpreter: neither hostvar {var} nor "
                      "ansible_python_interpreter is set (live mode never uses interpreter "
                      "discovery)")
    # ansible-core 2.19 prefixes the reason with "Task failed: " (not when our action
    # plugin caught it, nor before 2.19): one wording whichever path it took
    msg = str(res.get("msg") or res.get("reason") or "").strip().removeprefix("Task failed: ")
    if res.get("module_stderr") and not msg.strip():
        msg = str(res.get("module_stderr"))
    status: Status = "unreachable" if event == "runner_on_unreachable" else "failed"
    if res.get("timedout") or "timed out" in msg.lower():
        status = "timeout"
    if event == "runner_on_failed" and res.get("module_stderr") and (
            not msg or msg.startswith("MODULE FAILURE")):
        # the interpreter itself failed (a missing MLflow environment...): say which
        tail = str(res.get("module_stderr")).strip().splitlines()[-1:]
        msg = f"{msg}: {tail[0]}" if tail and tail[0] not in msg else msg
    return failed(host, addr, status, msg or event.removeprefix("runner_on_"))

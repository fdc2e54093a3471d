"""The two-process report writer: the same text as one process, whatever happens to the
child."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from mlflow_policy import parallel
from tests.support import REPO


def _produce(items: Sequence[int]) -> Iterator[str]:
    for i in items:
        yield f",{i}:{os.getpid()}"


def _text(chunks: Iterator[str]) -> list[str]:
    return "".join(chunks).split(",")[1:]


@pytest.fixture(autouse=True)
def _two_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_POLICY_JOBS", "2")


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 101])
def test_same_items_in_order_and_the_second_half_from_a_child(n: int) -> None:
    parts = _text(parallel.chunks(list(range(n)), _produce, min_items=2))
    assert [p.split(":")[0] for p in parts] == [str(i) for i in range(n)]
    pids = [int(p.split(":")[1]) for p in parts]
    if n >= 2:
        assert pids[0] == os.getpid()
        assert pids[-1] != os.getpid()  # it really ran in another process


def test_one_job_or_few_items_stay_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = _text(parallel.chunks(list(range(10)), _produce, min_items=11))
    assert {int(p.split(":")[1]) for p in parts} == {os.getpid()}
    monkeypatch.setenv("MLFLOW_POLICY_JOBS", "1")
    parts = _text(parallel.chunks(list(range(10)), _produce, min_items=2))
    assert {int(p.split(":")[1]) for p in parts} == {os.getpid()}


def test_a_failing_child_is_redone_here() -> None:
    parent = os.getpid()

    def fails_in_child(items: Sequence[int]) -> Iterator[str]:
        if os.getpid() != parent:
            raise RuntimeError("child crashed")
        yield from _produce(items)

    parts = _text(parallel.chunks(list(range(10)), fails_in_child, min_items=2))
    assert [p.split(":")[0] for p in parts] == [str(i) for i in range(10)]
    assert {int(p.split(":")[1]) for p in parts} == {parent}


def test_stopping_early_leaves_no_child_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    forked: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            forked.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    gen = parallel.chunks(list(range(10)), _produce, min_items=2)
    next(gen)
    gen.close()
    assert len(forked) == 1
    with pytest.raises(ChildProcessError):  # killed and reaped: no zombie left
        os.waitpid(forked[0], os.WNOHANG)


def _square(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def test_run_split_keeps_task_order_and_uses_a_child() -> None:
    results = parallel.run_split(list(range(8)), _square, [1.0] * 8, min_weight=0)
    assert [r[0] for r in results] == [x * x for x in range(8)]
    assert {r[1] for r in results} - {os.getpid()}  # some ran elsewhere


def test_run_split_redoes_what_the_child_cannot_return() -> None:
    parent = os.getpid()

    def unpicklable_in_child(x: int) -> object:
        if os.getpid() != parent:
            return lambda: x  # a lambda does not pickle: the child fails
        return x

    assert parallel.run_split(list(range(6)), unpicklable_in_child, [1.0] * 6,
                              min_weight=0) == list(range(6))


def test_run_split_below_the_weight_stays_here() -> None:
    results = parallel.run_split(list(range(4)), _square, [1.0] * 4, min_weight=5)
    assert {r[1] for r in results} == {os.getpid()}


def test_sigchld_ignored_keeps_everything_here() -> None:
    """With SIGCHLD ignored (inherited across exec) a child's exit status is lost: no fork."""
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        parts = _text(parallel.chunks(list(range(10)), _produce, min_items=2))
        results = parallel.run_split(list(range(4)), _square, [1.0] * 4, min_weight=0)
    finally:
        signal.signal(signal.SIGCHLD, previous)
    assert {int(p.split(":")[1]) for p in parts} == {os.getpid()}
    assert {r[1] for r in results} == {os.getpid()}


def _child_pids(caplog: pytest.LogCaptureFixture) -> list[int]:
    """The pids children wrote back themselves (see parallel's docstring)."""
    return [r.child_pid for r in caplog.records if hasattr(r, "child_pid")]


def test_the_child_reports_its_own_pid(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="mlflow_policy.parallel"):
        parts = _text(parallel.chunks(list(range(10)), _produce, min_items=2))
        parallel.run_split(list(range(4)), _square, [1.0] * 4, min_weight=0)
    children = _child_pids(caplog)
    assert len(children) == 2
    assert os.getpid() not in children
    assert int(parts[-1].split(":")[1]) == children[0]  # the child that wrote the half


@pytest.fixture
def other_thread() -> Iterator[threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, args=(30,), daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=30)


def test_no_fork_while_another_thread_runs(
    other_thread: threading.Thread, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fork copies only the calling thread: a lock another one holds would never be
    released in the child. With a second thread alive, everything stays here."""
    def fork() -> int:
        raise AssertionError("forked while another thread runs")

    monkeypatch.setattr(os, "fork", fork)
    assert threading.active_count() > 1
    parts = _text(parallel.chunks(list(range(10)), _produce, min_items=2))
    results = parallel.run_split(list(range(4)), _square, [1.0] * 4, min_weight=0)
    assert [p.split(":")[0] for p in parts] == [str(i) for i in range(10)]
    assert {int(p.split(":")[1]) for p in parts} == {os.getpid()}
    assert [r[0] for r in results] == [0, 1, 4, 9]


def test_a_failing_child_is_logged_with_what_it_raised_not_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parent = os.getpid()

    def fails_in_child(items: Sequence[int]) -> Iterator[str]:
        if os.getpid() != parent:
            raise RuntimeError("hunter2 is the password")
        yield from _produce(items)

    with caplog.at_level(logging.WARNING, logger="mlflow_policy.parallel"):
        parts = _text(parallel.chunks(list(range(10)), fails_in_child, min_items=2))
    assert len(parts) == 10
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "exited with status 1 after raising RuntimeError at " in message
    assert "test_parallel.py" in message
    assert "in fails_in_child" in message
    assert "redone in this process" in message
    assert "hunter2" not in message


def test_a_killed_child_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    parent = os.getpid()

    def killed_in_child(x: int) -> int:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return x

    with caplog.at_level(logging.WARNING, logger="mlflow_policy.parallel"):
        assert parallel.run_split(list(range(6)), killed_in_child, [1.0] * 6,
                                  min_weight=0) == list(range(6))
    [record] = caplog.records
    assert "was killed by signal SIGKILL" in record.getMessage()


def test_when_fork_fails_everything_is_done_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    def no_fork() -> int:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    with caplog.at_level(logging.WARNING, logger="mlflow_policy.parallel"):
        parts = _text(parallel.chunks(list(range(10)), _produce, min_items=2))
        results = parallel.run_split(list(range(4)), _square, [1.0] * 4, min_weight=0)
    assert {int(p.split(":")[1]) for p in parts} == {os.getpid()}
    assert len(parts) == 10
    assert [r[0] for r in results] == [0, 1, 4, 9]
    assert [r.getMessage() for r in caplog.records] == [
        "one process: fork failed (Resource temporarily unavailable)"] * 2


# -- through the CLI: a child's failure is shown under -v, and only there ------------------

def _dies_in_child(real: Callable[..., Any], parent: int) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if os.getpid() != parent:
            os._exit(7)
        return real(*args, **kwargs)
    return wrapper


@pytest.mark.parametrize("verbose", [True, False])
def test_check_v_reports_a_failed_child_on_stderr(
    verbose: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from mlflow_policy import engine
    from mlflow_policy.cli import main
    from mlflow_policy.rules import RULE_EVALUATORS

    monkeypatch.chdir(REPO)
    monkeypatch.setattr(engine, "PARALLEL_MIN_WEIGHT", 0.0)
    for kind, evaluate in list(RULE_EVALUATORS.items()):
        monkeypatch.setitem(RULE_EVALUATORS, kind, _dies_in_child(evaluate, os.getpid()))
    argv = ["check", "--format", "json", *(["-v"] if verbose else [])]
    assert main([*argv, "-o", str(tmp_path / "two")]) == 1
    err = capsys.readouterr().err
    monkeypatch.setenv("MLFLOW_POLICY_JOBS", "1")
    assert main([*argv, "-o", str(tmp_path / "one")]) == 1
    assert (tmp_path / "two").read_bytes() == (tmp_path / "one").read_bytes()  # redone here
    note = re.compile(r"^mlflow-policy: a second process \(pid \d+\) exited with status 7; "
                      r"its share was redone in this process \(the output is complete\)$",
                      re.MULTILINE)
    assert bool(note.search(err)) is verbose, err


def test_facts_v_reports_a_failed_child_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    from mlflow_policy.facts import snapshot

    class DyingMasker(snapshot.Masker):
        def document(self, values: Any, vaulted: Any) -> Any:
            if os.getpid() != parent:
                os._exit(7)
            return super().document(values, vaulted)

    parent = os.getpid()
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(parallel, "MIN_ITEMS", 2)
    monkeypatch.setattr(snapshot, "Masker", DyingMasker)
    from mlflow_policy.cli import main

    assert main(["facts", "--format", "json", "-v", "-o", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert "exited with status 7; its share was redone in this process" in err
    assert json.loads((tmp_path / "r").read_text())["hosts"]

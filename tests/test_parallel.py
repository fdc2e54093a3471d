"""The two-process report writer: the same text as one process, whatever happens to the
child."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import pytest

from mlflow_policy import parallel


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
    import signal

    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        parts = _text(parallel.chunks(list(range(10)), _produce, min_items=2))
        results = parallel.run_split(list(range(4)), _square, [1.0] * 4, min_weight=0)
    finally:
        signal.signal(signal.SIGCHLD, previous)
    assert {int(p.split(":")[1]) for p in parts} == {os.getpid()}
    assert {r[1] for r in results} == {os.getpid()}

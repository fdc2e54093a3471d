"""Producing a long text in two processes: the first half of the items here, the second
half in a forked child that writes to an unlinked temporary file, joined in order.

Used where the work per item is pure Python over data already in memory (the facts
report of a large fleet): a fork shares that data copy-on-write at no cost, where
threads would share one interpreter lock. The output is the same as ``produce(items)``
byte for byte; anything unusual (one CPU, no ``fork``, a small input, the child failing)
falls back to producing everything here.

``MLFLOW_POLICY_JOBS=1`` turns it off.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, TypeVar

T = TypeVar("T")

# Below this many items a fork (~10 ms for a large heap) costs more than it saves.
MIN_ITEMS = 2000
_BLOCK = 1 << 20


def jobs() -> int:
    """How many processes to use: ``MLFLOW_POLICY_JOBS``, else 2 when there are 2 CPUs."""
    wanted = os.environ.get("MLFLOW_POLICY_JOBS", "").strip()
    if wanted.isdigit() and int(wanted) > 0:
        return min(int(wanted), 2)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 2 if (cpus or 1) >= 2 else 1


def _spool(worth: bool, *, binary: bool) -> IO[Any] | None:
    """Where a child will write its share, or None: stay in one process. Also None when
    SIGCHLD is ignored (inherited across exec): children are then reaped by the kernel and
    their exit status, which says whether their share is complete, is lost."""
    if not worth or jobs() < 2 or not hasattr(os, "fork") or \
            signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN:
        return None
    try:
        if binary:
            return tempfile.TemporaryFile(mode="w+b")
        return tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    except OSError:  # no writable temporary directory
        return None


def _fork(work: Callable[[], None]) -> int:
    """Run ``work`` in a child; its exit code says whether it completed."""
    # buffered output would otherwise be written twice, once by each process
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        exit_code = 1
        try:
            work()
            exit_code = 0
        finally:
            os._exit(exit_code)  # no atexit handlers, no flushing of the parent's buffers
    return pid


def _completed(pid: int) -> bool:
    """Wait for the child: did its work complete?"""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:  # reaped elsewhere: its status is unknown
        return False
    return os.waitstatus_to_exitcode(status) == 0


def _abandon(pid: int) -> None:
    """Stop a child whose work is no longer wanted (the caller failed or stopped early)."""
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass


def chunks(items: Sequence[T], produce: Callable[[Sequence[T]], Iterator[str]], *,
           min_items: int | None = None) -> Iterator[str]:
    """``produce(items)``, its second half computed in a child process when worth it
    (at least ``min_items`` items, default ``MIN_ITEMS``)."""
    least = MIN_ITEMS if min_items is None else min_items
    spool = _spool(len(items) >= max(least, 2), binary=False)
    if spool is None:
        yield from produce(items)
        return
    split = len(items) // 2
    with spool:
        def child() -> None:
            for chunk in produce(items[split:]):
                spool.write(chunk)
            spool.flush()

        pid = _fork(child)
        waited = False
        try:
            yield from produce(items[:split])
            waited = True
            if _completed(pid):
                spool.seek(0)
                while block := spool.read(_BLOCK):
                    yield block
            else:
                yield from produce(items[split:])
        finally:
            if not waited:
                _abandon(pid)


R = TypeVar("R")


def run_split(tasks: Sequence[T], run: Callable[[T], R], weights: Sequence[float], *,
              min_weight: float) -> list[R]:
    """``[run(t) for t in tasks]``, about half of the weight computed in a forked child
    whose results come back pickled. Results must pickle; if the child fails for any
    reason (including that), its tasks are run here."""
    spool = _spool(len(tasks) >= 2 and sum(weights) >= min_weight, binary=True)
    if spool is None:
        return [run(t) for t in tasks]
    # heaviest first, each to the lighter side: a near-even split of the work
    mine: list[int] = []
    theirs: list[int] = []
    load = [0.0, 0.0]
    for i in sorted(range(len(tasks)), key=lambda i: -weights[i]):
        side = 0 if load[0] <= load[1] else 1
        (mine if side == 0 else theirs).append(i)
        load[side] += weights[i]
    with spool:
        def child() -> None:
            pickle.dump({i: run(tasks[i]) for i in theirs}, spool,
                        protocol=pickle.HIGHEST_PROTOCOL)
            spool.flush()

        pid = _fork(child)
        try:
            results = {i: run(tasks[i]) for i in mine}
        except BaseException:
            _abandon(pid)
            raise
        loaded: dict[int, R] | None = None
        if _completed(pid):
            spool.seek(0)
            try:
                loaded = pickle.load(spool)  # written by our own child, just now
            except Exception:  # a truncated or unreadable spool: redo the work here
                loaded = None
        if loaded is None or set(loaded) != set(theirs):
            loaded = {i: run(tasks[i]) for i in theirs}
        results.update(loaded)
    return [results[i] for i in range(len(tasks))]

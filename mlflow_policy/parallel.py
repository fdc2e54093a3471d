"""Producing a long text in two processes: the first half of the items here, the second
half in a forked child that writes to an unlinked temporary file, joined in order.

Used where the work per item is pure Python over data already in memory (the facts
report of a large fleet): a fork shares that data copy-on-write at no cost, where
threads would share one interpreter lock. The output is the same as ``produce(items)``
byte for byte; anything unusual (one CPU, no ``fork``, a small input, the child failing)
falls back to producing everything here.

``MLFLOW_POLICY_JOBS=1`` turns it off, and so does any other thread in this process
(ansible-runner starts some): a fork copies only the forking thread, so a lock another
thread holds (logging's, an allocator's) would stay locked in the child for ever.

What happened is logged on the ``mlflow_policy.parallel`` logger, never printed: a child
that failed (its share was redone here, the output is unchanged) as a warning, which the
CLI shows under ``-v``; a child that completed as a debug record whose ``child_pid`` is
the pid the child itself wrote back through a pipe (tests read it: the proof that a
second process really produced its share).
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, NamedTuple, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)
# Shown only where the program asks (the CLI's -v): without a handler of its own, Python
# would print warnings to stderr for any program that has not configured logging.
log.addHandler(logging.NullHandler())

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
    their exit status, which says whether their share is complete, is lost; and when
    another thread runs (see the module's docstring)."""
    if not worth or jobs() < 2 or not hasattr(os, "fork") or \
            signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN:
        return None
    if threading.active_count() > 1:
        log.debug("one process: %d other threads are running", threading.active_count() - 1)
        return None
    try:
        if binary:
            return tempfile.TemporaryFile(mode="w+b")
        return tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    except OSError:  # no writable temporary directory
        return None


class _Child(NamedTuple):
    pid: int
    said: int  # read end of the pipe on which the child writes its pid, then what failed


def _fork(work: Callable[[], None]) -> _Child | None:
    """Run ``work`` in a child; its exit code says whether it completed. None when no
    child could be made (a process limit): the caller does the work itself."""
    # buffered output would otherwise be written twice, once by each process
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        said, says = os.pipe()
    except OSError as exc:
        log.warning("one process: no pipe for a second one (%s)", exc.strerror)
        return None
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(said)
        os.close(says)
        log.warning("one process: fork failed (%s)", exc.strerror)
        return None
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        exit_code = 1
        try:
            os.close(said)
            os.write(says, f"{os.getpid()}\n".encode())
            work()
            exit_code = 0
        except BaseException as exc:  # told to the parent, which redoes the work
            _tell(says, exc)
        finally:
            os._exit(exit_code)  # no atexit handlers, no flushing of the parent's buffers
    os.close(says)
    return _Child(pid, said)


def _tell(fd: int, exc: BaseException) -> None:  # pragma: no cover - runs in the child
    """The type of what the child raised and where, for the parent's log. Not its message:
    that may quote a fact's value, and a log must never hold a secret."""
    import traceback

    try:
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        at = f" at {where.filename}:{where.lineno} in {where.name}" if where else ""
        os.write(fd, f"{type(exc).__name__}{at}"[:2000].encode(errors="replace"))
    except Exception:  # the exit code still tells the parent
        pass


def _read_all(fd: int) -> str:
    chunks = []
    try:
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
    except OSError:
        pass
    finally:
        os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def _completed(child: _Child) -> bool:
    """Wait for the child: did its work complete? If not, log why."""
    try:
        _, status = os.waitpid(child.pid, 0)
        exit_code: int | None = os.waitstatus_to_exitcode(status)
    except ChildProcessError:  # reaped elsewhere: its status is unknown
        exit_code = None
    pid_line, _, failure = _read_all(child.said).partition("\n")
    if exit_code == 0:
        log.debug("child process %s produced its share", pid_line,
                  extra={"child_pid": int(pid_line) if pid_line.isdigit() else None})
        return True
    if exit_code is None:
        how = "was reaped elsewhere, its exit status lost"
    elif exit_code < 0:
        how = f"was killed by signal {signal.Signals(-exit_code).name}"
    else:
        how = f"exited with status {exit_code}"
    log.warning("a second process (pid %d) %s%s; its share was redone in this process "
                "(the output is complete)", child.pid, how,
                f" after raising {failure}" if failure else "")
    return False


def _abandon(child: _Child) -> None:
    """Stop a child whose work is no longer wanted (the caller failed or stopped early)."""
    try:
        os.kill(child.pid, signal.SIGKILL)
        os.waitpid(child.pid, 0)
    except OSError:
        pass
    os.close(child.said)


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

        forked = _fork(child)
        if forked is None:
            yield from produce(items)
            return
        waited = False
        try:
            yield from produce(items[:split])
            waited = True
            if _completed(forked):
                spool.seek(0)
                while block := spool.read(_BLOCK):
                    yield block
            else:
                yield from produce(items[split:])
        finally:
            if not waited:
                _abandon(forked)


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

        forked = _fork(child)
        if forked is None:
            return [run(t) for t in tasks]
        try:
            results = {i: run(tasks[i]) for i in mine}
        except BaseException:
            _abandon(forked)
            raise
        loaded: dict[int, R] | None = None
        if _completed(forked):
            spool.seek(0)
            try:
                loaded = pickle.load(spool)  # written by our own child, just now
            except Exception as exc:  # a truncated or unreadable spool: redo the work here
                log.warning("the results of a second process (pid %d) could not be read "
                            "back (%s); they were redone in this process", forked.pid,
                            type(exc).__name__)
                loaded = None
            else:
                if set(loaded) != set(theirs):
                    log.warning("a second process (pid %d) returned other results than "
                                "it was given; they were redone in this process", forked.pid)
                    loaded = None
        if loaded is None:
            loaded = {i: run(tasks[i]) for i in theirs}
        results.update(loaded)
    return [results[i] for i in range(len(tasks))]

"""Writing reports without damaging what ``-o`` points at.

- a new file follows the umask (``mkstemp`` alone would make it ``-rw-------``);
- an existing regular file is replaced atomically and keeps its mode;
- a symlink stays a symlink: its target is replaced atomically;
- an existing non-regular target (``/dev/stdout``, ``/dev/null``, a FIFO, a terminal) is
  written in place, as a shell redirection would;
- a directory is a usage error (checked before any slow work by :func:`check_target`);
- several reports of one run are all written to temporary files first, then renamed
  together with SIGINT/SIGTERM held back, so an interrupt leaves either every new report or
  every old one.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from mlflow_policy.errors import InputError, UsageError

Chunks = Iterable[str]
_HELD = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_target(path: Path | None, option: str = "-o") -> None:
    """A usage error for a target that can never be written as a report file."""
    if path is None:
        return
    if os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a directory; name a file")
    parent = os.path.dirname(os.path.realpath(path)) or "."
    if not os.path.isdir(parent):
        raise UsageError(f"{option} {path}: no such directory: {parent}")


def _in_place(real: str) -> bool:
    """Is the (resolved) target something to write into rather than replace?"""
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise InputError(f"cannot write {real}: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"-o {real}: is a directory; name a file")
    return not stat.S_ISREG(st.st_mode)


def _through_kernel_files(path: Path) -> bool:
    """Does ``path`` (or a symlink on the way to its target) name /dev or /proc, as
    /dev/stdout -> /proc/self/fd/1 does? Such a target is an open file of this process,
    written in place: replacing the file behind it would lose the report."""
    text = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on symlink hops
        if text.startswith(("/dev/", "/proc/")):
            return True
        try:
            target = os.readlink(text)
        except OSError:
            return False
        text = os.path.normpath(os.path.join(os.path.dirname(text), target))
    return False


class _Pending:
    """One report written to a temporary file beside its real target, not yet renamed."""

    def __init__(self, path: Path, chunks: Chunks) -> None:
        self.shown = str(path)
        # /dev/stdout is a symlink into /proc: write through it, never resolve it into the
        # file the shell redirected stdout to (replacing that file would lose the report).
        self.real = os.path.realpath(path)
        self.tmp: str | None = None
        if _in_place(self.real) or _through_kernel_files(path):
            self._write_in_place(path, chunks)
            return
        directory = os.path.dirname(self.real)
        try:
            fd, self.tmp = tempfile.mkstemp(
                dir=directory, prefix=f".{os.path.basename(self.real)}.", suffix=".tmp")
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror}") from None
        try:
            try:
                mode = stat.S_IMODE(os.stat(self.real).st_mode)
            except FileNotFoundError:
                mode = 0o666 & ~_umask()
            os.fchmod(fd, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                for chunk in chunks:
                    fh.write(chunk)
        except BaseException:
            self.discard()
            raise

    def _write_in_place(self, path: Path, chunks: Chunks) -> None:
        try:
            # append: a FIFO or device does not mind; a file behind /dev/stdout keeps what
            # the shell (or an earlier write) put there
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NOCTTY)
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for chunk in chunks:
                fh.write(chunk)

    def commit(self) -> None:
        if self.tmp is not None:
            os.replace(self.tmp, self.real)
            self.tmp = None

    def discard(self) -> None:
        if self.tmp is not None:
            Path(self.tmp).unlink(missing_ok=True)
            self.tmp = None


def write_all(reports: Sequence[tuple[Chunks, Path | None]]) -> None:
    """Write every report (``None``: stdout): files first to temporaries, then all renamed."""
    pending: list[_Pending] = []
    to_stdout: list[Chunks] = []
    try:
        for chunks, path in reports:
            if path is None:
                to_stdout.append(chunks)
            else:
                check_target(path)
                pending.append(_Pending(path, chunks))
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
        try:
            for item in pending:
                item.commit()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
    finally:
        for item in pending:
            item.discard()
    for chunks in to_stdout:
        out = sys.stdout
        for chunk in chunks:
            out.write(chunk)
        out.flush()


def write(chunks: Chunks, path: Path | None) -> None:
    write_all([(chunks, path)])

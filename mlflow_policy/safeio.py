"""Reading files that a pull request controls.

``check`` runs in CI next to the CI's secrets, on files anyone can propose. So every file
mlflow-policy reads goes through :func:`read_bytes`, which

- reads regular files only: a device (``/dev/zero``), a FIFO (which would block), a
  socket, or anything under ``/proc`` or ``/sys`` (``/proc/self/environ`` is the CI's
  environment) is refused with a clear error;
- counts the bytes it actually reads against the size limit (a file may grow while read);
- when given a :class:`Confinement`, refuses a file whose real path (symlinks resolved)
  is outside the confinement's roots: a symlink committed into the repository cannot make
  us read ``/etc/shadow``.

Paths given on the command line are trusted (the user chose them); everything a repository
file names, and every symlink met while walking a directory, must stay inside the
configuration root (or inside the path the user gave, when we walk that one).
:func:`walk` lists a directory tree with the same checks and refuses symlink loops.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from mlflow_policy.errors import InputError

MAX_FILE_BYTES = 64 * 1024 * 1024
# Kernel pseudo-filesystems: their "regular files" are views of process or machine state.
_PSEUDO = ("/proc", "/sys")
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _pseudo(real: str) -> bool:
    return any(real == p or real.startswith(p + "/") for p in _PSEUDO)


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip("/") + "/")


class Confinement:
    """The directories a run may read below: the configuration root, plus the paths given
    on the command line. Real directory paths are cached (a fleet reads thousands of files
    from a handful of directories)."""

    def __init__(self, *roots: Path | str | None) -> None:
        self.roots = tuple(dict.fromkeys(
            os.path.realpath(r) for r in roots if r is not None))
        self._real_dirs: dict[str, str] = {}

    def with_roots(self, *roots: Path | str | None) -> Confinement:
        return Confinement(*self.roots, *roots)

    def allows(self, real: str) -> bool:
        return not _pseudo(real) and any(_inside(real, r) for r in self.roots)

    def real_dir(self, directory: str) -> str:
        real = self._real_dirs.get(directory)
        if real is None:
            real = self._real_dirs[directory] = os.path.realpath(directory)
        return real

    def outside(self, path: Path | str) -> str | None:
        """The real path of ``path`` when it escapes the roots, else ``None``."""
        real = os.path.realpath(path)
        return None if self.allows(real) else real

    def check(self, path: Path | str, display: str, what: str = "path") -> None:
        real = self.outside(path)
        if real is not None and _pseudo(real):
            raise InputError(f"{what} is in a kernel pseudo-filesystem (/proc, /sys); only "
                             "regular files are read", display)
        if real is not None:
            raise InputError(
                f"{what} resolves outside the configuration root; files named by the "
                "repository, and symlinks in it, must stay inside it", display)


def _open(path: str, display: str, confine: Confinement | None) -> int:
    try:
        if confine is None:
            if _pseudo(os.path.realpath(path)):
                raise InputError("is in a kernel pseudo-filesystem (/proc, /sys); only "
                                 "regular files are read", display)
            return os.open(path, _OPEN_FLAGS)
        parent = confine.real_dir(os.path.dirname(os.path.abspath(path)))
        if confine.allows(parent):
            try:
                # The common case: not a symlink, in a directory known to be inside.
                return os.open(path, _OPEN_FLAGS | os.O_NOFOLLOW)
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
        confine.check(path, display, "file")
        return os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError("symlink loop", display) from None
        raise InputError(f"cannot read file: {exc.strerror}", display) from None


def read_bytes(path: Path | str, display: str, confine: Confinement | None = None, *,
               limit: int | None = None) -> bytes:
    """A regular file's bytes, at most ``limit`` (default :data:`MAX_FILE_BYTES`) of
    them, else a located error."""
    if limit is None:
        limit = MAX_FILE_BYTES
    fd = _open(os.fspath(path), display, confine)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{_kind(st.st_mode)}, not a regular file; only regular files "
                             "are read", display)
        if st.st_size > limit:
            raise InputError(
                f"file is {st.st_size} bytes, more than the {limit} bytes mlflow-policy "
                "reads", display)
        data = os.read(fd, st.st_size + 1)
        if len(data) <= st.st_size:
            return data
        # The file grew since fstat: keep reading, but never past the limit.
        chunks = [data]
        total = len(data)
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise InputError(f"file is more than the {limit} bytes mlflow-policy reads",
                             display)
        return b"".join(chunks)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", display) from None
    finally:
        os.close(fd)


def walk(top: Path, *, keep_dir: Callable[[str], bool], keep_file: Callable[[str], bool],
         confine: Confinement | None, display: Callable[[Path], str],
         sort_key: Callable[[str], object] = str) -> list[Path]:
    """The files under ``top`` (depth first, names sorted by ``sort_key``) that
    ``keep_file`` accepts, descending into the directories ``keep_dir`` accepts. A symlink
    (to a file or a directory) must resolve inside ``confine``; a symlinked directory that
    leads back to one being walked is a loop, and an error."""
    found: list[Path] = []
    top_real = os.path.realpath(top)

    def visit(directory: Path, real_dir: str, stack: frozenset[str]) -> None:
        try:
            names = sorted(os.listdir(directory), key=sort_key)  # type: ignore[arg-type]
        except OSError:
            return
        for name in names:
            full = directory / name
            try:
                st = os.lstat(full)
            except OSError:
                continue
            real: str | None = None
            if stat.S_ISLNK(st.st_mode):
                real = os.path.realpath(full)
                if confine is not None and not confine.allows(real):
                    confine.check(full, display(full), "symlink")
                try:
                    st = os.stat(full)
                except OSError as exc:
                    if exc.errno == errno.ELOOP:
                        raise InputError("symlink loop", display(full)) from None
                    continue  # a dangling link: Ansible skips it too
            if stat.S_ISDIR(st.st_mode):
                if not keep_dir(name):
                    continue
                real = real or os.path.join(real_dir, name)
                if real in stack:
                    raise InputError("symlink loop: this directory contains itself",
                                     display(full))
                visit(full, real, stack | {real})
            elif keep_file(name):
                found.append(full)

    visit(top, top_real, frozenset({top_real}))
    return found


def confined_paths(paths: Iterable[Path], confine: Confinement, what: str,
                   display: Callable[[Path], str] = str) -> list[InputError]:
    """Errors for the paths (named by a repository file) that escape ``confine``."""
    errors: list[InputError] = []
    for path in paths:
        try:
            confine.check(path, display(path), what)
        except InputError as exc:
            errors.append(exc)
    return errors

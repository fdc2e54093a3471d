"""Issue 10, item 5: writing a report never damages what ``-o`` points at."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlflow_policy import outputs
from mlflow_policy.cli import main
from tests.support import REPO

ARGV = ["rules", "-p", str(REPO / "policies")]


def _rules_to(target: Path | str) -> int:
    return main([*ARGV, "-o", str(target)])


@pytest.fixture
def umask_027() -> Iterator[None]:
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def test_new_file_follows_the_umask(tmp_path: Path, umask_027: None) -> None:
    target = tmp_path / "report.txt"
    assert _rules_to(target) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert "mlflow-baseline/" in target.read_text()


def test_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    target.write_text("old")
    target.chmod(0o604)
    assert _rules_to(target) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o604
    assert target.read_text() != "old"


def test_symlink_survives_and_its_target_is_replaced(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to("real.txt")
    assert _rules_to(link) == 0
    assert link.is_symlink()
    assert os.readlink(link) == "real.txt"
    assert "mlflow-baseline/" in real.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.txt", "real.txt"]


def test_character_device_survives(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # a local copy of /dev/null
        device = tmp_path / "null"
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    else:
        device = Path("/dev/null")
    assert _rules_to(device) == 0
    assert stat.S_ISCHR(os.stat(device).st_mode)
    assert not [p for p in device.parent.iterdir() if p.name.startswith(f".{device.name}.")]


def test_fifo_survives_and_gets_the_report(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    assert _rules_to(fifo) == 0
    thread.join(10)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert got
    assert b"mlflow-baseline/" in got[0]


def test_a_link_to_stdout_writes_into_the_redirected_file(tmp_path: Path) -> None:
    # /dev/stdout itself is such a link; a local one keeps a failing run from replacing
    # the machine's /dev/stdout
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    out = tmp_path / "out.txt"
    with open(out, "wb") as fh:
        proc = subprocess.run(
            [sys.executable, "-m", "mlflow_policy", *ARGV, "-o", str(link)],
            stdout=fh, stderr=subprocess.PIPE, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "mlflow-baseline/" in out.read_text()
    assert link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt", "stdout"]


POLICIES = ["-p", str(REPO / "policies")]
STAGING = ["-i", str(REPO / "inventories/staging")]


@pytest.mark.parametrize("argv", [
    ["rules", "-o", "{dir}", *POLICIES],
    ["check", "-o", "{dir}", *POLICIES, *STAGING],
    ["check", "--format", "json={dir}", *POLICIES, *STAGING],
    ["facts", "-o", "{dir}", *STAGING],
])
def test_output_naming_a_directory_is_a_usage_error(
        tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([a.replace("{dir}", str(tmp_path)) for a in argv]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_several_reports_are_all_new_or_all_old(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text("old a")
    second.write_text("old b")

    def interrupted() -> Iterator[str]:
        yield "new b, half"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        outputs.write_all([(["new a"], first), (interrupted(), second)])
    assert (first.read_text(), second.read_text()) == ("old a", "old b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]
    outputs.write_all([(["new a"], first), (["new b"], second)])
    assert (first.read_text(), second.read_text()) == ("new a", "new b")

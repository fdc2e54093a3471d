"""Data-driven remediation cases: every directory under tests/fixtures/remediate/ is one.

A case holds ``inventories/<name>/`` (one or more), ``policies/``, optionally ``results/``
(a gather-playbook results directory, for a live case) and ``case.yaml``::

    args: [--facts, results]     # extra `remediate` arguments
    exit_code: 1
    never_printed: [s3cret]      # strings no output and no written file may contain

and ``expected/``: the whole tree ``remediate --out`` must write, compared byte for byte
(REPORT.md, playbook.yml, the host_vars/group_vars patches, the env files). Regenerate
with ``UPDATE_GOLDEN=1`` and review the diff. Each case runs twice: the second run writes
the same bytes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from mlflow_policy.cli import main
from mlflow_policy.remediate.render import MANIFEST

CASES_DIR = Path(__file__).parent / "fixtures" / "remediate"
CASES = sorted(p for p in CASES_DIR.iterdir() if (p / "case.yaml").is_file())


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != MANIFEST}


def run_case(case: Path, out: Path, capsys: pytest.CaptureFixture[str],
             monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    spec = yaml.safe_load((case / "case.yaml").read_text()) or {}
    argv = ["remediate", "-p", "policies", "--out", str(out)]
    for inv in sorted((case / "inventories").iterdir()):
        argv += ["-i", f"inventories/{inv.name}"]
    monkeypatch.chdir(case)
    code = main(argv + list(spec.get("args", [])))
    printed = capsys.readouterr()
    return code, printed.out + printed.err


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
              monkeypatch: pytest.MonkeyPatch) -> None:
    spec = yaml.safe_load((case / "case.yaml").read_text()) or {}
    out = tmp_path / "out"
    code, printed = run_case(case, out, capsys, monkeypatch)
    assert code == spec.get("exit_code", 1), printed
    written = _tree(out)
    for secret in spec.get("never_printed", []):
        assert secret not in printed
        for name, data in written.items():
            assert secret.encode() not in data, f"{secret!r} written to {name}"
    expected_dir = case / "expected"
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        shutil.copytree(out, expected_dir, ignore=shutil.ignore_patterns(MANIFEST))
    expected = _tree(expected_dir)
    assert sorted(written) == sorted(expected)
    for name, data in expected.items():
        assert written[name].decode() == data.decode(), (
            f"{name} differs: regenerate with UPDATE_GOLDEN=1 and review the diff")
    # a second run over the same output directory writes the same bytes
    code2, _ = run_case(case, out, capsys, monkeypatch)
    assert code2 == code
    assert _tree(out) == written

"""Building the package: no setuptools deprecation warning, the SPDX licence in the wheel.

Built offline from a copy of the sources (``--no-build-isolation``: the test extra pins a
setuptools that reads PEP 639's ``license`` string), so nothing is written into the
repository and no index is needed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from packaging.version import Version

from tests.support import REPO, skip_or_fail


def test_wheel_builds_without_deprecation_warnings(tmp_path: Path) -> None:
    import setuptools

    if Version(setuptools.__version__) < Version("77"):
        skip_or_fail("setuptools>=77 (the test extra) is not installed: rerun ./dev test")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    # bundled/ links to ../../policies, ../../inventories/staging and ../../templates: copy
    # the targets too.
    for name in ("mlflow_policy", "policies", "inventories", "templates"):
        shutil.copytree(REPO / name, src / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp_path / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=600, check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert "deprecat" not in log.lower(), log
    (wheel,) = out.glob("mlflow_policy-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    # the remediation templates ship (remediate renders from them)
    for template in ("playbook.yml.j2", "REPORT.md.j2", "ansible/mlflow.env.j2"):
        assert f"mlflow_policy/bundled/templates/{template}" in names

"""Data-driven engine cases: every directory under tests/cases/ is one case.

A case holds ``policies/`` (policy and waiver files), ``inventory/`` (one inventory) or
``inventories/<name>/`` (several, evaluated together), and ``expected.yaml``:

```yaml
args: [--waivers, waivers]          # optional extra `check` arguments
break_kind: consistent              # optional: inject a fault into one rule kind
findings:                           # exactly the findings the run must give
  - {rule: p/r, host: h, fact: f}   # severity defaults to error, waived to false,
                                    # inventory to the case's only inventory (for host
                                    # findings); "*" matches anything
    message_contains: "..."         # optional
    at: "inventory/host_vars/h.yml:2"  # optional: location path:line
summary: {...}                      # optional: a subset of the JSON summary
never_printed: [s3cret]             # optional: strings no output may contain
stderr_contains: ["error: p.yaml:7:"]  # what stderr must say; without it, stderr must
                                    # be empty. Required for exit 2 (bad input: no
                                    # report, only located errors)
exit_code: 1
```
Each case runs through ``main(["check", ..., "--format", "json"])`` from the case
directory, the way a user runs it in a configuration repository.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlflow_policy import rules as rules_pkg
from mlflow_policy.cli import main

CASES_DIR = Path(__file__).parent / "cases"
CASES = sorted(p for p in CASES_DIR.iterdir() if (p / "expected.yaml").is_file())
KEYS = ("rule", "host", "inventory", "fact", "severity", "waived")


def case_argv(case: Path, extra: Sequence[str]) -> list[str]:
    argv = ["check", "-p", "policies", "--format", "json"]
    if (case / "inventory").is_dir():
        argv += ["-i", "inventory"]
    else:
        for inv in sorted((case / "inventories").iterdir()):
            argv += ["-i", f"inventories/{inv.name}"]
    return argv + list(extra)


def _normalise(entry: dict[str, Any], default_inventory: str | None) -> dict[str, Any]:
    out = {"severity": "error", "waived": False, **entry}
    if "inventory" not in out:
        out["inventory"] = default_inventory if out.get("host") is not None else None
    out.setdefault("host", None)
    out.setdefault("fact", None)
    return out


def _matches(want: dict[str, Any], got: dict[str, Any]) -> bool:
    for key in (*KEYS, "waiver"):
        if key in want and want[key] != "*" and want[key] != got[key]:
            return False
    if "message_contains" in want and want["message_contains"] not in got["message"]:
        return False
    if "at" in want:
        loc = got["location"]
        if loc is None or f"{loc['path']}:{loc['line']}" != want["at"]:
            return False
    return True


def _boom(*args: Any) -> Any:
    raise RuntimeError("injected fault")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path, capsys: pytest.CaptureFixture[str],
              monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    expected = yaml.safe_load((case / "expected.yaml").read_text())
    monkeypatch.chdir(case)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # internal-error tracebacks
    if "break_kind" in expected:
        monkeypatch.setitem(rules_pkg.RULE_EVALUATORS, expected["break_kind"], _boom)  # type: ignore[arg-type]
    code = main(case_argv(case, expected.get("args", [])))
    captured = capsys.readouterr()
    assert code == expected["exit_code"], captured.err
    stderr = expected.get("stderr_contains", [])
    for part in stderr:
        assert part in captured.err, captured.err
    if not stderr:
        assert captured.err == "", captured.err
    if code == 2:  # bad input: no report, located errors only
        assert stderr, "a bad-input case must say what stderr shows"
        assert captured.out == ""
        assert captured.err.startswith("error: "), captured.err
        return
    report = json.loads(captured.out)

    default_inv = "inventory" if (case / "inventory").is_dir() else None
    wanted = [_normalise(e, default_inv) for e in expected.get("findings", [])]
    remaining = list(report["findings"])
    missing = []
    for want in wanted:
        hit = next((g for g in remaining if _matches(want, g)), None)
        if hit is None:
            missing.append(want)
        else:
            remaining.remove(hit)
    shown = [{k: g[k] for k in (*KEYS, "message")} for g in remaining]
    assert (missing, shown) == ([], []), (
        f"missing: {json.dumps(missing, indent=1)}\nunexpected: {json.dumps(shown, indent=1)}")

    for secret in expected.get("never_printed", []):
        assert secret not in captured.out
        assert secret not in captured.err
    for key, value in expected.get("summary", {}).items():
        assert report["summary"][key] == value, key


def test_every_rule_kind_has_a_case() -> None:
    """A new rule kind without a case here fails this test, not silently untested."""
    text = "\n".join(p.read_text() for c in CASES for p in (c / "policies").glob("*.yaml"))
    for kind in rules_pkg.RULE_EVALUATORS:
        assert f"{kind}:" in text, kind

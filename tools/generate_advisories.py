#!/usr/bin/env python3
"""Generate mlflow_policy/catalogue/advisories.json from OSV advisory files.

    python tools/generate_advisories.py [--check] [SOURCE_DIR ...]

Sources (default: ``tools/advisories/pypa`` and ``tools/advisories/verified``) are OSV
documents (YAML or JSON, https://ossf.github.io/osv-schema/): the PyPA advisory database's
``vulns/mlflow`` files, copied unchanged, and the later advisories this project checked
against MLflow's wheels itself (written in the same shape). A newer OSV export replaces the
``pypa`` directory; rerunning this script updates the table, and the pack's
``not_vulnerable`` rules read the table, so the pack itself does not change.

The table keeps OSV's shape, reduced to what a policy needs: id, aliases, summary, the
``ECOSYSTEM`` ranges of the ``mlflow`` / ``mlflow-skinny`` PyPI packages (GIT ranges name
commits, which a version check cannot use), the fixed versions, references, and
``database_specific.scope``: which MLflow hosts the flaw hurts (``server``: code that runs in
``mlflow server``; ``client``: code that runs where models are logged or loaded). Scope is
this project's judgement, kept in ``tools/advisories/scope.yaml``; an advisory it does not
list hurts both (conservative: a new advisory flags every host until someone scopes it).

Output is deterministic (sorted, no timestamps). ``--check`` exits 1 when the shipped table
differs from what the sources give.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES = (REPO_ROOT / "tools" / "advisories" / "pypa",
           REPO_ROOT / "tools" / "advisories" / "verified")
SCOPE_FILE = REPO_ROOT / "tools" / "advisories" / "scope.yaml"
OUT = REPO_ROOT / "mlflow_policy" / "catalogue" / "advisories.json"
PACKAGES = frozenset({"mlflow", "mlflow-skinny"})
SCOPES = ("server", "client")
GENERATOR_VERSION = 1
# Which reference a finding links to: the advisory page first, then the fix.
_REF_ORDER = ("ADVISORY", "WEB", "REPORT", "FIX", "EVIDENCE", "ARTICLE", "PACKAGE")


def load_sources(dirs: Sequence[Path]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for d in dirs:
        for path in sorted(d.glob("*")):
            if path.suffix not in (".yaml", ".yml", ".json"):
                continue
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or "id" not in doc or "affected" not in doc:
                raise ValueError(f"{path}: not an OSV document (no id / affected)")
            docs.append(doc)
    return docs


def _ranges(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for affected in doc.get("affected", []):
        package = affected.get("package", {})
        if package.get("ecosystem") != "PyPI" or package.get("name") not in PACKAGES:
            continue
        ranges = [{"type": "ECOSYSTEM",
                   "events": [{k: str(v) for k, v in e.items()} for e in rng.get("events", [])]}
                  for rng in affected.get("ranges", []) if rng.get("type") == "ECOSYSTEM"]
        if ranges:
            out.append({"package": {"ecosystem": "PyPI", "name": package["name"]},
                        "ranges": ranges})
    return out


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in text.split("."))


def _summary(doc: Mapping[str, Any]) -> str:
    text = str(doc.get("summary") or doc.get("details") or "").strip()
    first = " ".join(text.split()).split(". ")[0].rstrip(".")
    return first if len(first) <= 160 else first[:157] + "..."


def _url(doc: Mapping[str, Any]) -> str | None:
    refs = doc.get("references") or []
    for kind in _REF_ORDER:
        for ref in refs:
            if ref.get("type") == kind and ref.get("url"):
                return str(ref["url"])
    return None


def build(docs: Sequence[Mapping[str, Any]], scopes: Mapping[str, Sequence[str]]
          ) -> dict[str, Any]:
    table: list[dict[str, Any]] = []
    for doc in docs:
        ranges = _ranges(doc)
        if not ranges:
            continue
        scope = sorted(scopes.get(str(doc["id"]), SCOPES))
        fixed = sorted({e["fixed"] for a in ranges for r in a["ranges"] for e in r["events"]
                        if "fixed" in e}, key=_version_key)
        table.append({
            "id": str(doc["id"]),
            "aliases": sorted(str(a) for a in doc.get("aliases") or []),
            "summary": _summary(doc),
            "affected": ranges,
            "fixed": fixed,
            "url": _url(doc),
            "database_specific": {"scope": scope},
        })
    table.sort(key=lambda a: a["id"])
    return {"header": {"generator": "tools/generate_advisories.py",
                       "generator_version": GENERATOR_VERSION, "advisories": len(table)},
            "advisories": table}


def load_scopes(path: Path = SCOPE_FILE) -> dict[str, list[str]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for key, value in raw.items():
        if not isinstance(value, list) or not set(value) <= set(SCOPES):
            raise ValueError(f"{path}: {key}: scope must be a list of {SCOPES}")
    return {str(k): [str(s) for s in v] for k, v in raw.items()}


def dump(doc: object) -> str:
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=True) + "\n"


def generate(dirs: Sequence[Path] = SOURCES) -> str:
    return dump(build(load_sources(dirs), load_scopes()))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("sources", nargs="*", type=Path, help="OSV directories")
    ap.add_argument("--check", action="store_true", help="fail when the shipped table differs")
    args = ap.parse_args(argv)
    text = generate(args.sources or SOURCES)
    if args.check:
        same = OUT.read_text(encoding="utf-8") == text
        print("advisories.json is current" if same else "advisories.json is stale: rerun")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {OUT.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

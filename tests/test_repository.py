"""The repository stands alone: what the tests and the README refer to is inside it."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import REFERENCE, REPO

# [text](target) links and `path` mentions of files outside the repository
_LINK = re.compile(r"\]\(([^)#\s]+)")
_OUTSIDE = re.compile(r"(?:\.\./)+[A-Za-z_]")
# a path built to step out of the repository: REPO / ".." / ..., or REPO.parent / ...
_STEPS_OUT = re.compile(r"""/\s*["']\.\.["']|\bREPO\.parent\b|parents\[[2-9]\]""")


def test_readme_links_resolve_inside_the_repository() -> None:
    for doc in (REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))):
        text = doc.read_text(encoding="utf-8")
        for up in _OUTSIDE.findall(text):  # ../x from a page in a subfolder stays inside
            assert (doc.parent / up[:-1]).resolve().is_relative_to(REPO), (
                f"{doc.relative_to(REPO)} refers to a file outside the repository: {up}")
        for target in _LINK.findall(text):
            if "://" in target:
                continue
            resolved = (doc.parent / target).resolve()
            assert resolved.is_relative_to(REPO), f"{doc.name}: {target} leaves the repository"
            assert resolved.exists(), f"{doc.name}: {target} does not exist"


def test_tests_read_reference_data_from_the_repository() -> None:
    for module in sorted((REPO / "tests").glob("*.py")):
        if module.name == Path(__file__).name:
            continue
        text = module.read_text(encoding="utf-8")
        assert not _STEPS_OUT.search(text), f"{module.name} reads from outside the repository"
    assert REFERENCE.is_relative_to(REPO)


def test_every_vendored_inventory_has_its_licence() -> None:
    folders = sorted(p.name for p in (REFERENCE / "real-inventories").iterdir() if p.is_dir())
    assert len(folders) == 12
    sources = (REFERENCE / "real-inventories" / "SOURCES.md").read_text(encoding="utf-8")
    for folder in folders:
        assert f"`{folder}`" in sources
        licences = list((REFERENCE / "licenses" / folder).glob("LICENSE*"))
        assert licences, folder
        assert licences[0].stat().st_size > 500, folder

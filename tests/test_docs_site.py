"""The documentation site builds with `mkdocs build --strict` (no warning: every link and
anchor resolves), needs no network, and README.md and docs/ link only inside the
repository."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO, skip_or_fail

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve_inside_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for target in _LINK.findall(text):
        if "://" in target or target.startswith(("#", "mailto:")):
            continue
        path = target.split("#", 1)[0]
        resolved = (page.parent / path).resolve()
        assert resolved.is_relative_to(REPO), f"{target} leaves the repository"
        assert resolved.exists(), f"{target} does not exist"
        if page.parent.is_relative_to(REPO / "docs") and not resolved.is_relative_to(
                REPO / "docs" / "spec"):
            # a site page links to site pages only (mkdocs would warn on anything else)
            assert resolved.is_relative_to(REPO / "docs"), f"{target} is not a docs page"


def test_readme_points_into_the_repository_only() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    targets = _LINK.findall(text)
    assert any(t.startswith("docs/") for t in targets)
    assert not [t for t in targets if "://" in t], "the README links outside the repository"


def test_mkdocs_builds_strict_with_no_warning_and_no_network(tmp_path: Path) -> None:
    try:
        import material  # noqa: F401
        import mkdocs  # noqa: F401
    except ImportError:
        skip_or_fail("mkdocs and mkdocs-material are not installed (the test extra has them)")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(REPO / "mkdocs.yml"),
         "-d", str(site)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
        check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "WARNING" not in output, output
    assert (site / "index.html").is_file()
    assert (site / "reference" / "rules" / "mlflow-baseline" / "tracking-uri-https.html").is_file()
    # nothing the pages load comes from the network (no Google Fonts, no CDN)
    for html in site.rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        loaded = re.findall(r"<(?:link|script|img)\b[^>]*\b(?:href|src)=\"(https?:[^\"]+)\"",
                            text)
        assert not loaded, f"{html.relative_to(site)} loads {loaded[0]}"
    # the fixtures and the copied specification are not pages of the site
    assert not (site / "examples").exists()
    assert not (site / "spec").exists()

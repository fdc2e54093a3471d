"""Every example of README.md and docs/ is executed or checked (tools/docs_examples.py):
console sessions are run and their output compared, YAML is validated as what it is, and
every `mlflow-policy ...` command line shown anywhere is parsed by the real parser. A docs
example that stops being true fails here."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import REPO, load_tool

docs = load_tool("docs_examples")
BLOCKS = docs.all_blocks()


def _ids(blocks: list[object]) -> list[str]:
    return [b.where for b in blocks]  # type: ignore[attr-defined]


CONSOLE = [b for b in BLOCKS if b.lang == "console"]
YAML = [b for b in BLOCKS if b.lang in ("yaml", "yml")]
OTHER = [b for b in BLOCKS if b.lang != "console"]


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return docs._parser()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with docs.scratch() as root:
        yield root


def test_the_docs_have_examples_of_every_kind() -> None:
    assert len(CONSOLE) >= 10
    assert len(YAML) >= 10
    readme = [b for b in CONSOLE if b.path == REPO / "README.md"]
    assert [docs.steps(b)[0].command for b in readme] == ["./dev demo"], (
        "the README's demo output is run")


def _unless_pending(block: object) -> None:
    missing = docs.missing_feature(block)
    if missing is not None:
        pytest.skip(f"documents {missing}, which this tree does not have yet")


@pytest.mark.parametrize("block", CONSOLE, ids=_ids(CONSOLE))
def test_console_session_prints_what_the_page_shows(block: object) -> None:
    _unless_pending(block)
    problems = docs.check_console(block)
    assert not problems, "\n\n".join(problems) + (
        "\n(python tools/gen_docs.py --write rewrites the shown output)")


@pytest.mark.parametrize("block", YAML, ids=_ids(YAML))
def test_yaml_snippet_is_valid(block: object, scratch: Path) -> None:
    _unless_pending(block)
    problems = docs.check_yaml(block, scratch)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("block", OTHER, ids=_ids(OTHER))
def test_shown_commands_parse(block: object, parser: argparse.ArgumentParser) -> None:
    _unless_pending(block)
    problems = [p for c in docs.commands_in("\n".join(block.body))  # type: ignore[attr-defined]
                if (p := docs.check_command(c, parser)) is not None]
    assert not problems, "\n".join(problems)


SCAFFOLD = {
    ".github/workflows/mlflow-policy.yml": "dot-github/workflows/mlflow-policy.yml",
    ".gitlab-ci.yml": "dot-gitlab-ci.yml",
    ".pre-commit-config.yaml": "dot-pre-commit-config.yaml",
}


def test_recipes_show_the_scaffold_files_verbatim() -> None:
    shown = [b for b in YAML if b.body and b.body[0].endswith("as mlflow-policy init writes it")]
    assert {b.body[0].split()[1].rstrip(",") for b in shown} == set(SCAFFOLD)
    for b in shown:
        name = b.body[0].split()[1].rstrip(",")
        scaffold = REPO / "mlflow_policy" / "bundled" / "scaffold" / SCAFFOLD[name]
        assert "\n".join(b.body[1:]) + "\n" == scaffold.read_text(encoding="utf-8"), b.where


def test_reports_page_shows_the_summary_words_verbatim() -> None:
    from mlflow_policy.report.text import SUMMARY_HELP

    assert SUMMARY_HELP in (REPO / "docs" / "reports.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- the checker
def _block(lang: str, body: str) -> object:
    lines = body.strip("\n").splitlines()
    return docs.Block(REPO / "docs" / "x.md", 1, lang, lang, "", lines, 1, 1 + len(lines))


@pytest.mark.parametrize(("body", "wrong"), [
    ("$ mlflow-policy validate docs/examples/small/policy.yaml\nall good\n", "printed"),
    ("$ mlflow-policy check -p docs/examples/small/policy.yaml "
     "-i docs/examples/small/fleet\n...\n", "exited 1"),
    ("$ mlflow-policy check -p docs/examples/small/policy.yaml "
     "-i docs/examples/small/fleet\n...\n$ echo $?\n0\n", "printed"),
])
def test_a_console_block_that_is_not_true_fails(body: str, wrong: str) -> None:
    problems = docs.check_console(_block("console", body))
    assert len(problems) == 1
    assert wrong in problems[0]


def test_ellipsis_stands_for_any_lines_and_paths_are_normalised(tmp_path: Path) -> None:
    assert docs.matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert docs.matches(["a", "  ...", "b"], ["a", "b"])
    assert not docs.matches(["a", "...", "d"], ["a", "b", "c"])
    assert docs.normalise(f"wrote {tmp_path}/gather/x.yml in 1.25 s\n", tmp_path) == [
        "wrote gather/x.yml in <duration>"]


@pytest.mark.parametrize(("body", "wrong"), [
    ("assert:\n  mlflow.version: {pinnned: true}\n", "unknown operator 'pinnned'"),
    ("assert:\n  mlflow.verison: {pinned: true}\n", "unknown fact 'mlflow.verison'"),
    ("match: {groupz: [a]}\n", "unknown key 'groupz'"),
    ("# .mlflow-policy.yaml\ndrift: [mlflow.verison]\n", "unknown fact path"),
    ("# .mlflow-policy.yaml\nfail_on: sometimes\n", "'fail_on' must be one of"),
    ("# inventories/x/hosts.yml\nall:\n  hosts: {a: {}}\n  hosts: {b: {}}\n", "duplicate"),
    ("name: a CI job of some kind\nsteps: [x]\n", "no policy, fragment or named file"),
])
def test_a_yaml_snippet_that_is_not_valid_fails(body: str, wrong: str, scratch: Path) -> None:
    problems = docs.check_yaml(_block("yaml", body), scratch)
    assert problems
    assert wrong in problems[0]


def test_only_the_named_pending_features_are_skipped() -> None:
    from mlflow_policy import cli

    assert docs.missing_feature(_block("sh", "mlflow-policy chek --live")) is None
    assert docs.missing_feature(_block("sh", "mlflow-policy check --format htm")) is None
    pending = docs.missing_feature(_block("sh", "mlflow-policy remediate --write"))
    assert pending == (None if "remediate" in cli.COMMANDS else "the `remediate` command")


def test_a_shown_command_with_an_unknown_option_fails(parser: argparse.ArgumentParser) -> None:
    text = "steps:\n  - run: mlflow-policy check --formats sarif\n  - run: mlflow-policy validate\n"
    commands = docs.commands_in(text)
    assert commands == ["check --formats sarif", "validate"]
    assert "unrecognized arguments: --formats" in (docs.check_command(commands[0], parser) or "")
    assert docs.check_command(commands[1], parser) is None


def test_update_rewrites_a_stale_output(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "page.md"
    page.write_text("# x\n\n```console\n$ mlflow-policy validate docs/examples/small/policy.yaml"
                    "\nstale\n```\n", encoding="utf-8")
    monkeypatch.setattr(docs, "doc_files", lambda: [page])
    notes = docs.update_all()
    assert len(notes) == 1
    text = page.read_text(encoding="utf-8")
    assert "stale" not in text
    assert "$ mlflow-policy validate docs/examples/small/policy.yaml\n1 file valid\n" in text


def test_update_keeps_a_shortened_block_shortened() -> None:
    shown = ["prod", "  a", "  x1", "  ...", "  c", "  y1", "  ...", "", "sum: 1 error"]
    actual = ["prod", "  a", "  x1", "  x2", "  b", "  z", "  c", "  y1", "  y2", "",
              "sum: 2 errors"]
    new = docs.refreshed(shown, actual)
    assert new == ["prod", "  a", "  x1", "  ...", "  c", "  y1", "  ...", "", "sum: 2 errors"]
    assert docs.matches(new, actual)
    # a run whose first line is gone: the whole output, to be shortened again by hand
    assert docs.refreshed(["a", "...", "gone", "..."], ["a", "b"]) == ["a", "b"]


def test_reports_page_has_a_sampled_section_per_format() -> None:
    from mlflow_policy.report import REPORTERS

    page = (REPO / "docs" / "reports.md").read_text(encoding="utf-8")
    sections = {s.split("`", 1)[0] for s in page.split("\n## `")[1:]}
    assert set(REPORTERS) <= sections
    sampled = {c.split("--format ")[1].split()[0].split("=")[0]
               for b in CONSOLE if b.path.name == "reports.md"
               for c in (s.command for s in docs.steps(b)) if "--format " in c}
    assert set(REPORTERS) - {"text"} <= sampled

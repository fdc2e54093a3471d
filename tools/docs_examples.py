#!/usr/bin/env python3
"""The documentation's examples, executed: every code block of README.md and docs/ is
either checked or run.

    python tools/docs_examples.py [--update]

Conventions (docs/contributing-docs.md says the same to authors):

- A ```console block is a shell session: each ``$ `` line is a command, the lines after it
  its output (stdout then stderr, as a terminal shows them). Commands run in a scratch copy
  of the repository (``policies/``, ``inventories/``, ``examples/``, ``docs/examples/``),
  from its root. ``mlflow-policy ARGS`` and ``./dev demo ARGS`` (which is ``mlflow-policy
  check ARGS``) run in-process (``NAME=value`` words in front set that command's
  environment); ``cat FILE``, ``cd DIR`` and ``echo $?`` (the previous
  command's exit code) do what a shell does. A command that is not followed by
  ``$ echo $?`` must exit 0. A line ``...`` (alone, indented or not) in the shown output
  stands for any number of lines. Output is compared after normalising only the scratch
  directory's path and durations.
- A ```yaml block is validated as what it is: a file named by a first-line comment
  (``# .mlflow-policy.yaml``, ``# inventories/prod/hosts.yml``, ``# .gitlab-ci.yml``...), a
  Policy / Waiver / PolicyTest document (loaded with the loader, fact paths checked), or a
  fragment of a policy (a rule, a rule kind, a selector, conditions), which is wrapped in a
  Policy and loaded. A block that is none of these fails.
- In every other block (sh, yaml, groovy...), each ``mlflow-policy ...`` command line is
  parsed by the real argument parser: an option that does not exist fails.

``--update`` rewrites the shown output of every console block whose output differs (the
``...`` shortening of such a block is lost: shorten it again by hand); ``python
tools/gen_docs.py --write`` calls it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

# What a scratch copy of the repository holds: the fixtures commands in the docs run on.
SCRATCH_DIRS = ("policies", "inventories", "examples", "docs/examples")
# Pages whose blocks are checked: the README and the site's pages (the generated reference
# too: its YAML examples are validated like any other). The copied specification is not a
# site page, and its fragments are sketches (`match: {...}`).
EXCLUDED = ("docs/spec/",)

# Features the docs describe ahead of their merge into this tree: a block that uses one is
# skipped (not failed) while the tree lacks it, and runs as soon as it is there.
PENDING_COMMANDS = ("remediate",)
PENDING_FORMATS = ("html",)
PENDING_KINDS = ("aggregate",)

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_DURATION = re.compile(r"\b\d+(\.\d+)? ?(s|ms|seconds)\b")


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    info: str
    indent: str
    body: list[str]  # dedented lines between the fences
    start: int  # index of the first body line in the file's lines
    end: int  # index of the closing fence

    @property
    def where(self) -> str:
        shown = self.path.relative_to(REPO_ROOT) if self.path.is_relative_to(REPO_ROOT) \
            else self.path
        return f"{shown}:{self.line}"


def doc_files() -> list[Path]:
    files = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]
    return [f for f in files
            if not any(f.relative_to(REPO_ROOT).as_posix().startswith(e) for e in EXCLUDED)]


def blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        indent, fence = m["indent"], m["fence"]
        info = m["info"].strip()
        j = i + 1
        while j < len(lines) and not (lines[j].startswith(indent)
                                      and lines[j].strip() == fence):
            j += 1
        body = [ln[len(indent):] if ln.startswith(indent) else ln.lstrip()
                for ln in lines[i + 1:j]]
        lang = info.split()[0] if info else ""
        out.append(Block(path, i + 1, lang, info, indent, body, i + 1, j))
        i = j + 1
    return out


def all_blocks() -> list[Block]:
    return [b for f in doc_files() for b in blocks(f)]


# --------------------------------------------------------------------------- console blocks
@dataclass
class Step:
    command: str
    shown: list[str] = field(default_factory=list)


def steps(block: Block) -> list[Step]:
    out: list[Step] = []
    continued = False
    for line in block.body:
        if continued:  # a command continued with a trailing backslash
            out[-1].command += " " + line.strip()
        elif line.startswith("$ "):
            out.append(Step(line[2:]))
        elif not out:
            raise ValueError(f"{block.where}: output before the first '$ ' command")
        else:
            out[-1].shown.append(line)
            continue
        continued = out[-1].command.endswith("\\")
        if continued:
            out[-1].command = out[-1].command[:-1].rstrip()
    return out


@dataclass
class Session:
    """A shell over a scratch copy of the repository."""

    root: Path
    cwd: Path
    last: int = 0

    def run(self, command: str) -> tuple[int | None, str]:
        """The command's exit code (None for ``echo $?``, which only shows it) and output."""
        argv = shlex.split(command)
        env: dict[str, str] = {}
        while argv and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", argv[0]):  # NAME=value cmd
            name, _, value = argv.pop(0).partition("=")
            env[name] = value
        if argv == ["echo", "$?"]:
            return None, f"{self.last}\n"
        if argv[0] == "cd" and len(argv) == 2:
            target = (self.cwd / argv[1]).resolve()
            if not target.is_relative_to(self.root) or not target.is_dir():
                raise ValueError(f"cd {argv[1]}: not a directory of the scratch copy")
            self.cwd = target
            return 0, ""
        if argv[0] == "cat" and len(argv) == 2:
            return 0, (self.cwd / argv[1]).read_text(encoding="utf-8")
        if argv[0] == "mlflow-policy":
            args = argv[1:]
        elif argv[:2] == ["./dev", "demo"] and self.cwd == self.root:
            args = ["check", *argv[2:]]
        else:
            raise ValueError(f"not a command the docs can run: {command!r}")
        return self._main(args, env)

    def _main(self, args: list[str], env: dict[str, str]) -> tuple[int, str]:
        from mlflow_policy.cli import main

        out = io.StringIO()
        before = Path.cwd()
        # the session's environment is the page's: only what the command line sets
        saved = {k: os.environ.pop(k) for k in ("GITHUB_STEP_SUMMARY", "NO_COLOR", *env)
                 if k in os.environ}
        try:
            os.environ.update(env)
            os.chdir(self.cwd)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                code = main(args)
        finally:
            os.chdir(before)
            for k in env:
                os.environ.pop(k, None)
            os.environ.update(saved)
        return code, out.getvalue()


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="mlflow-policy-docs-") as tmp:
        root = Path(tmp).resolve()
        for rel in SCRATCH_DIRS:
            src = REPO_ROOT / rel
            if src.exists():
                shutil.copytree(src, root / rel, symlinks=True)
        yield root


def normalise(text: str, root: Path) -> list[str]:
    text = text.replace(str(root) + os.sep, "").replace(str(root), ".")
    return [_DURATION.sub("<duration>", line.rstrip()) for line in text.splitlines()]


def matches(shown: Sequence[str], actual: Sequence[str]) -> bool:
    """``shown`` equals ``actual``, where a ``...`` line stands for any number of lines."""
    shown = [_DURATION.sub("<duration>", s.rstrip()) for s in shown]
    memo: dict[tuple[int, int], bool] = {}

    def at(i: int, j: int) -> bool:
        if (i, j) in memo:
            return memo[(i, j)]
        if i == len(shown):
            ok = j == len(actual)
        elif shown[i].strip() == "...":
            ok = at(i + 1, j) or (j < len(actual) and at(i, j + 1))
        else:
            ok = j < len(actual) and shown[i] == actual[j] and at(i + 1, j + 1)
        memo[(i, j)] = ok
        return ok

    return at(0, 0)


@dataclass
class Outcome:
    step: Step
    code: int | None
    actual: list[str]
    problem: str | None


def run_console(block: Block, root: Path) -> list[Outcome]:
    session = Session(root, root)
    session_steps = steps(block)
    outcomes = []
    for k, step in enumerate(session_steps):
        code, text = session.run(step.command)
        if code is not None:
            session.last = code
        actual = normalise(text, root)
        problem = None
        shows_code = k + 1 < len(session_steps) and session_steps[k + 1].command == "echo $?"
        if code not in (None, 0) and not shows_code:
            problem = f"`{step.command}` exited {code}; show it with `$ echo $?`"
        elif not matches(step.shown, actual):
            problem = f"`{step.command}` printed something else"
        outcomes.append(Outcome(step, code, actual, problem))
    return outcomes


def check_console(block: Block) -> list[str]:
    with scratch() as root:
        return [f"{block.where}: {o.problem}\n--- shown\n" + "\n".join(o.step.shown)
                + "\n--- actual\n" + "\n".join(o.actual)
                for o in run_console(block, root) if o.problem is not None]


def missing_feature(block: Block) -> str | None:
    """The pending command, report format or rule kind ``block`` uses that this tree
    lacks, if any."""
    from mlflow_policy import cli
    from mlflow_policy.policy.models import RULE_KINDS
    from mlflow_policy.report import REPORTERS

    text = "\n".join(block.body)
    for name in PENDING_COMMANDS:
        if name not in cli.COMMANDS and re.search(rf"mlflow-policy\s+{name}\b", text):
            return f"the `{name}` command"
    for name in PENDING_FORMATS:
        if name not in REPORTERS and re.search(rf"--format[ =]{name}\b", text):
            return f"`--format {name}`"
    if block.lang in ("yaml", "yml"):
        for name in PENDING_KINDS:
            if name not in RULE_KINDS and re.search(rf"^\s*{name}:", text, re.MULTILINE):
                return f"the rule kind `{name}`"
    return None


# --------------------------------------------------------------------------- commands
def _parser() -> argparse.ArgumentParser:
    import importlib

    from mlflow_policy import cli

    parser, commands = cli.build_parser()
    for name, (module, _help) in cli.COMMANDS.items():
        importlib.import_module(module).add_arguments(commands[name])
    return parser


# A command at the start of a line (after a shell prompt, a YAML list dash or `run:` /
# `entry:` / `script:`, or Groovy's sh '...'); prose that mentions the tool is not one.
_COMMAND = re.compile(
    r"^\s*(\$\s+)?(-\s+)?((run|entry|script):\s*)?(sh\s+['\"])?"
    r"(mlflow-policy|python -m mlflow_policy)\s+(?P<rest>.*)$")
_SHELL_OPS = {"|", "||", "&&", ";", ">", ">>", "2>", "2>&1", "&", ")"}


def _uncommented(line: str) -> str:
    if line.lstrip().startswith(("#", "//")):
        return ""
    return re.split(r"\s#\s", line, maxsplit=1)[0]


def commands_in(text: str) -> list[str]:
    """The ``mlflow-policy ...`` command lines in a block (with the option lines a folded
    YAML scalar continues them with), cut at shell operators; ``${...}`` words dropped."""
    lines = [_uncommented(ln) for ln in text.splitlines()]
    found = []
    for i, line in enumerate(lines):
        m = _COMMAND.match(line)
        if m is None:
            continue
        rest = m["rest"]
        for nxt in lines[i + 1:]:
            if not nxt.strip().startswith(("--", "${")):
                break
            rest += " " + nxt.strip()
        rest = re.sub(r"\$\{\{.*?\}\}|\$\{[^}]*\}", " ", rest.replace("\\", " "))
        rest = rest.strip().rstrip("'\"")
        try:
            words = shlex.split(rest)
        except ValueError:
            words = rest.split()
        cut = []
        for w in words:
            if w in _SHELL_OPS or w.startswith((">", "2>", "|")):
                break
            if "${" not in w and "$(" not in w:
                cut.append(w.rstrip(";"))
        found.append(" ".join(shlex.quote(w) for w in cut))
    return found


def check_command(command: str, parser: argparse.ArgumentParser) -> str | None:
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(shlex.split(command))
    except SystemExit as exc:
        if exc.code not in (0, None):
            return f"`mlflow-policy {command}`: {err.getvalue().strip().splitlines()[-1]}"
    return None


# --------------------------------------------------------------------------- yaml blocks
_ANY_HOST = {"host": {"required": True}}


def _policy(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "mlflow-policy/v1", "kind": "Policy",
            "metadata": {"name": "docs-snippet"}, "spec": spec}


def _keys(model: Any) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


def wrap_fragment(doc: Any) -> dict[str, Any] | None:
    """A policy fragment as a whole Policy, or None when it is not one. What a rule, a
    selector or a policy spec may hold comes from the models, so a new rule kind is a
    fragment as soon as the language has it."""
    from mlflow_policy.policy import models

    if not isinstance(doc, dict) or not doc:
        return None
    keys = set(doc)
    rule_fields, kinds = _keys(models.Rule), set(models.RULE_KINDS)
    selector, spec = _keys(models.Selector), _keys(models.PolicySpec)
    if keys == {"spec"}:
        return _policy(doc["spec"])
    if keys <= spec and "rules" in keys:
        return _policy(doc)
    if keys <= spec and "data" in keys:
        return _policy({**doc, "rules": [{"id": "x", "assert": _ANY_HOST}]})
    if keys <= rule_fields:  # a rule, or parts of one (a kind added when it has none)
        kind = {} if keys & kinds else {"assert": _ANY_HOST}
        return _policy({"rules": [{"id": "docs-snippet", **doc, **kind}]})
    if keys <= selector:
        return _policy({"rules": [{"id": "docs-snippet", "match": doc, "assert": _ANY_HOST}]})
    if all((isinstance(k, str) and "." in k) or k in ("host", "role", "groups", "inventory")
           for k in keys):
        return _policy({"rules": [{"id": "docs-snippet", "assert": doc}]})
    return None


def _first_comment(body: Sequence[str]) -> str | None:
    first = body[0].strip() if body else ""
    if first.startswith("# "):
        word = first[2:].split()[0].rstrip(",:;") if first[2:].split() else ""
        if re.fullmatch(r"[\w./-]+\.(ya?ml|cfg|toml)", word) or word.endswith(
                ("/hosts.yml", "group_vars/", "host_vars/")):
            return word
    return None


def check_yaml(block: Block, root: Path) -> list[str]:
    import yaml

    from mlflow_policy import yamlio
    from mlflow_policy.errors import InputError, InputErrors

    text = "\n".join(block.body) + "\n"
    name = _first_comment(block.body)
    try:
        docs = yamlio.loads_all(text, block.where)
    except InputError as exc:
        return [f"{block.where}: not YAML: {exc.render()}"]
    except InputErrors as exc:
        return [f"{block.where}: not YAML: {exc.errors[0].render()}"]
    docs = [d for d in docs if d is not None]
    problems: list[str] = []
    policy_docs = [d for d in docs if isinstance(d, dict) and "apiVersion" in d]
    if name is not None and name.endswith(".mlflow-policy.yaml"):
        from mlflow_policy import configmodel

        try:
            configmodel.validate(docs[0], block.where, block.line)
        except InputErrors as exc:
            problems += [f"{block.where}: config: {e.render()}" for e in exc.errors]
        return problems
    if name is not None and ("workflows/" in name or name.endswith(
            (".gitlab-ci.yml", "pre-commit-config.yaml", "pre-commit-hooks.yaml"))):
        loaded = yaml.safe_load(text)
        if name.endswith("pre-commit-config.yaml"):
            ours = {h["id"] for h in yaml.safe_load(
                (REPO_ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
            for repo in loaded.get("repos", []):
                for hook in repo.get("hooks", []):
                    if hook["id"].startswith("mlflow-policy") and repo.get("repo") != "local" \
                            and hook["id"] not in ours:
                        problems.append(f"{block.where}: no hook {hook['id']!r} in "
                                        ".pre-commit-hooks.yaml")
        elif "workflows/" in name and "jobs" not in loaded:
            problems.append(f"{block.where}: a workflow without jobs")
        return problems
    if name is not None and ("inventor" in name or "group_vars" in name
                             or "host_vars" in name or name.endswith("hosts.yml")):
        return problems  # parsed strictly above (duplicate keys, YAML errors)
    if not policy_docs:
        # plain mappings to wrap (yamlio's keep their positions, which a dump cannot write)
        wrapped = [wrap_fragment(d) for d in yaml.safe_load_all(text) if d is not None]
        if not docs or any(w is None for w in wrapped):
            return [f"{block.where}: a YAML block that is no policy, fragment or named file "
                    "(name the file in a first-line comment, e.g. '# .mlflow-policy.yaml')"]
        text = yaml.safe_dump_all(wrapped, sort_keys=False)
    target = root / (name if name is not None else "docs-snippet.yaml")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    from mlflow_policy.policy.loader import load_paths

    try:
        load_paths([target], root)
    except InputErrors as exc:
        problems += [f"{block.where}: {e.render()}" for e in exc.errors]
    finally:
        target.unlink()
    return problems


# --------------------------------------------------------------------------- the whole
def check_block(block: Block, parser: argparse.ArgumentParser) -> list[str]:
    problems: list[str] = []
    if missing_feature(block) is not None:
        return problems
    if block.lang == "console":
        problems += check_console(block)
    else:
        for command in commands_in("\n".join(block.body)):
            problem = check_command(command, parser)
            if problem is not None:
                problems.append(f"{block.where}: {problem}")
    if block.lang in ("yaml", "yml"):
        with scratch() as root:
            problems += check_yaml(block, root)
    return problems


def _is_gap(line: str) -> bool:
    return line.strip() == "..."


def refreshed(shown: Sequence[str], actual: Sequence[str]) -> list[str]:
    """New shown output for ``actual`` that keeps the shortening of ``shown``: each run of
    lines between ``...`` gaps keeps its length and is taken from where its first line is
    now (the first run from the top, the last from the bottom). Without gaps, or when a
    run's first line is gone, the whole output."""
    if not any(_is_gap(s) for s in shown):
        return list(actual)
    runs: list[list[str]] = [[]]
    gaps: list[str] = []
    for line in shown:
        if _is_gap(line):
            gaps.append(line)
            runs.append([])
        else:
            runs[-1].append(line)
    out: list[str] = []
    pos = 0
    for i, run in enumerate(runs):
        if i == len(runs) - 1:
            start = max(pos, len(actual) - len(run))
        elif i == 0:
            start = 0
        else:
            if not run:
                out.append(gaps[i])
                continue
            try:
                start = list(actual).index(run[0], pos)
            except ValueError:
                return list(actual)
        out += actual[start:start + len(run)]
        pos = start + len(run)
        if i < len(gaps):
            out.append(gaps[i])
    return out


def update_all() -> list[str]:
    """Rewrite the shown output of every console block that differs; what changed."""
    notes = []
    for path in doc_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        changed = False
        for block in reversed(blocks(path)):
            if block.lang != "console" or missing_feature(block) is not None:
                continue
            with scratch() as root:
                outcomes = run_console(block, root)
            if all(o.problem is None for o in outcomes):
                continue
            body: list[str] = []
            for o in outcomes:
                body.append(f"$ {o.step.command}")
                body += o.actual if o.problem is None else refreshed(o.step.shown, o.actual)
            lines[block.start:block.end] = [block.indent + ln if ln else ln for ln in body]
            changed = True
            notes.append(f"{block.where}: output rewritten")
            for o in outcomes:
                if o.problem and "exited" in o.problem:
                    notes.append(f"{block.where}: {o.problem}")
        if changed:
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--update", action="store_true",
                    help="rewrite the shown output of console blocks that differ")
    args = ap.parse_args(argv)
    if args.update:
        for note in update_all():
            print(note)
        return 0
    parser = _parser()
    problems = [p for b in all_blocks() for p in check_block(b, parser)]
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""Pull-request mode (``--diff-base REF``): the merge base's inputs, new vs fixed findings,
and the schema migrations a change of ``mlflow.version`` on a tracking server implies.

Git is read through gitpython (imported only here), never by shelling out. The merge
base's copy of the run's inputs (policies, inventories, waivers, config) is written to a
private directory and evaluated exactly like the working tree; findings are matched by
fingerprint, which never hashes line numbers, so moving lines reports nothing new.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow_policy.core import HostFacts
from mlflow_policy.errors import InputError
from mlflow_policy.findings import SCHEMA_MIGRATION, Finding

_FETCH_HINT = ("fetch more history (for example `git fetch --unshallow`, or `fetch-depth: 0` "
               "in actions/checkout)")


@dataclass(frozen=True)
class MergeBase:
    commit: str  # the merge base's sha
    root: Path  # where its copy of the inputs was written; the cwd's counterpart


def _repo(cwd: Path) -> Any:
    import git

    try:
        return git.Repo(cwd, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise InputError(f"--diff-base needs a git repository; {cwd} is not in one") from None


def _merge_base_commit(repo: Any, ref: str) -> Any:
    import git

    shallow = Path(repo.git_dir, "shallow").exists()
    try:
        other = repo.commit(ref)
    except (git.BadName, ValueError, git.GitCommandError):
        hint = f"; this clone is shallow: {_FETCH_HINT}" if shallow else ""
        raise InputError(f"--diff-base: unknown revision '{ref}'{hint}") from None
    bases = repo.merge_base(other, repo.head.commit)
    if not bases:
        why = "this clone is shallow" if shallow else "the histories are unrelated"
        raise InputError(
            f"--diff-base: no merge base between '{ref}' and HEAD ({why}); {_FETCH_HINT}")
    return bases[0]


def _write_blob(blob: Any, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = blob.mode
    data = blob.data_stream.read()
    if stat.S_ISLNK(mode):
        os.symlink(data.decode("utf-8", "surrogateescape"), target)
        return
    target.write_bytes(data)
    if mode & 0o111:
        # An executable inventory script must still be refused in the base tree.
        target.chmod(0o755)


def export_merge_base(ref: str, inputs: Iterable[Path], dest: Path, cwd: Path
                      ) -> MergeBase:
    """Write the merge base of ``ref`` and HEAD's tree under ``dest`` (``inputs``, paths
    relative to ``cwd``, the run's root, or absolute, must be inside the repository);
    returns where the root's counterpart is. Inputs the merge base does not have are simply
    absent there."""
    cwd = cwd.resolve()
    repo = _repo(cwd)
    commit = _merge_base_commit(repo, ref)
    top = Path(repo.working_tree_dir).resolve()
    for item in inputs:
        full = (cwd / item).resolve() if not item.is_absolute() else item.resolve()
        if not full.is_relative_to(top):
            raise InputError(f"--diff-base: {item} is outside the repository {top}")
    # The whole tree, not only the inputs' prefixes: a policy or PolicyTest may reference
    # files anywhere in the repository (fixtures, data), and the run reads them all.
    for blob in commit.tree.traverse():
        if blob.type == "blob":
            _write_blob(blob, dest / blob.path)
    return MergeBase(commit=commit.hexsha, root=dest / cwd.relative_to(top))


@dataclass(frozen=True)
class Diff:
    new: tuple[Finding, ...]  # findings of the working tree whose fingerprint the base lacks
    fixed: int  # fingerprints of the base that the working tree no longer has
    unchanged: int


def compare(base: Sequence[Finding], head: Sequence[Finding]) -> Diff:
    """Like with like: a finding is the same on both sides when its fingerprint and whether
    it is waived are. A finding waived on one side and not the other is new (or fixed) for
    the reviewer; one waived on both sides, like one failing on both, is neither."""
    base_keys = {(f.fingerprint, f.waived) for f in base}
    head_keys = {(f.fingerprint, f.waived) for f in head}
    new = tuple(f for f in head if (f.fingerprint, f.waived) not in base_keys)
    return Diff(new=new, fixed=len({k for k in base_keys - head_keys if not k[1]}),
                unchanged=len(head_keys & base_keys))


_SIDED = ("consistent", "unique")  # rule kinds whose finding may sit on either side


def blame_change(new: Sequence[Finding], rules: Iterable[Any],
                 base_hosts: Sequence[HostFacts], head_hosts: Sequence[HostFacts]
                 ) -> tuple[Finding, ...]:
    """A ``consistent`` / ``unique`` finding names a disagreement between hosts: when the
    change made it, it lands on the hosts whose value the change touched, not on the
    unchanged ones that merely disagree with them. Per rule, new findings on hosts whose
    fact is as it was at the merge base are dropped when another new finding of the rule
    sits on a host whose fact changed (or that is new)."""
    from mlflow_policy.facts.lookup import lookup

    sided = {r.full_id for r in rules if r.rule.kind in _SIDED}
    before = {h.key: h for h in base_hosts}
    after = {h.key: h for h in head_hosts}

    def changed(f: Finding) -> bool:
        if f.host is None or f.fact is None:
            return True
        key = (f.inventory or "", f.host)
        old, now = before.get(key), after.get(key)
        if old is None or now is None:
            return True
        a, b = lookup(old, f.fact), lookup(now, f.fact)
        return (a.present, a.value) != (b.present, b.value)

    touched = {f.rule for f in new if f.rule in sided and changed(f)}
    return tuple(f for f in new if f.rule not in touched or changed(f))


def _is_server(h: HostFacts) -> bool:
    facts = h.facts
    server = facts.get("server")
    return facts.get("role") == "tracking_server" or (
        isinstance(server, dict) and "backend_store_uri" in server)


def _server_schema(h: HostFacts) -> tuple[str | None, str | None, Any]:
    """(declared version, its alembic head, the backend key) of a server."""
    from mlflow_policy import catalogue
    from mlflow_policy.rules.base import value_key

    version = (h.facts.get("mlflow") or {}).get("version")
    if not isinstance(version, str):
        return None, None, None
    backend = (h.facts.get("server") or {}).get("backend_store_uri")
    return version, catalogue.head_for(version), (
        value_key(backend) if backend is not None else None)


def schema_migrations(base_hosts: Sequence[HostFacts], head_hosts: Sequence[HostFacts]
                      ) -> list[Finding]:
    """What the change does to the databases (pull-request mode's built-in
    ``schema-migration``):

    - a tracking server whose declared ``mlflow.version`` changes to a release with another
      alembic head needs a database migration (warning: how many revisions), or cannot serve
      its database at all when the new head is older (error: MLflow has no downgrades);
    - a server that joins a backend (a new replica, or one moved to another backend store)
      with a release whose head is older than the newest head a server of that backend ran
      at the merge base cannot serve it either (error): the database was migrated past it.
    """
    from mlflow_policy import catalogue

    before = {h.key: h for h in base_hosts}
    # backend -> (newest head a base server of it ran, that server's version)
    newest: dict[Any, tuple[str, str]] = {}
    for h in base_hosts:
        if not _is_server(h):
            continue
        version, head, backend = _server_schema(h)
        if head is None or version is None or backend is None:
            continue
        known = newest.get(backend)
        if known is None or catalogue.revisions_between(known[0], head) > 0:
            newest[backend] = (head, version)
    findings: list[Finding] = []
    for host in head_hosts:
        if not _is_server(host):
            continue
        new_v, new_head, backend = _server_schema(host)
        old_host = before.get(host.key)
        old_v, old_head, old_backend = _server_schema(old_host) if old_host is not None \
            else (None, None, None)
        loc = host.provenance.get("mlflow.version")
        if new_v is None or new_head is None:
            continue
        if old_v is not None and old_head is not None and new_v != old_v \
                and new_head != old_head:
            steps = catalogue.revisions_between(old_head, new_head)
            if steps < 0:
                severity = "error"
                message = (f"mlflow.version goes from {old_v} to {new_v}, whose database "
                           f"schema ({new_head}) is {-steps} revision(s) older than {old_v}'s "
                           f"({old_head}): MLflow cannot downgrade a database, so the server "
                           "will refuse it")
            else:
                severity = "warning"
                message = (f"mlflow.version goes from {old_v} to {new_v}: the backend store "
                           f"needs {steps} schema migration(s) ({old_head} -> {new_head}); "
                           "run `mlflow db upgrade` with a backup, before every server "
                           "sharing it moves")
            findings.append(Finding(
                rule=SCHEMA_MIGRATION, severity=severity, message=message, host=host.host,
                inventory=host.inventory, fact="mlflow.version", actual=new_v,
                expected=f"schema {old_head}", location=loc,
            ))
            continue
        joins = old_host is None or old_backend != backend
        target = newest.get(backend) if backend is not None else None
        if not joins or target is None or target[0] == new_head:
            continue
        steps = catalogue.revisions_between(target[0], new_head)
        if steps >= 0:
            continue
        how = "is added to" if old_host is None else "moves to"
        findings.append(Finding(
            rule=SCHEMA_MIGRATION, severity="error", host=host.host,
            inventory=host.inventory, fact="mlflow.version", actual=new_v,
            expected=f"schema {target[0]} or newer", location=loc,
            message=(f"the server {how} a backend store whose servers ran MLflow {target[1]} "
                     f"at the merge base (schema {target[0]}), but runs {new_v}, whose schema "
                     f"({new_head}) is {-steps} revision(s) older: MLflow cannot downgrade a "
                     "database, so this server will refuse it"),
        ))
    return sorted(findings)

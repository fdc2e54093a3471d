"""The strict YAML layer: every bad file fails fast with file:line, good files keep marks."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflow_policy import safeio, yamlio
from mlflow_policy.core import Location, Unsafe, VaultedValue
from mlflow_policy.errors import InputError
from tests.support import REPO

BAD = Path(__file__).parent / "fixtures" / "yaml" / "bad"
CASES = sorted(p for p in BAD.iterdir() if p.suffix == ".yaml")


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_yaml_is_a_located_error(path: Path) -> None:
    expected = path.with_suffix(".expected").read_text().strip()
    with pytest.raises(InputError) as info:
        yamlio.load_all_file(path, path.name)
    rendered = info.value.render()
    assert rendered.startswith(f"{path.name}:"), rendered
    assert expected in rendered


def test_alias_bomb_fails_fast_without_building_it() -> None:
    # 9**9 leaves if expanded; the bound must refuse it by counting, not by building it.
    with pytest.raises(InputError, match="alias bomb"):
        yamlio.load_all_file(BAD / "alias-bomb.yaml")


def test_moderate_alias_use_is_fine() -> None:
    data = yamlio.loads("base: &b {x: 1, y: [1, 2]}\nother: *b\nmerged: {<<: *b, x: 2}\n", "f")
    assert data["other"] == {"x": 1, "y": [1, 2]}
    assert data["merged"] == {"x": 2, "y": [1, 2]}


def test_merge_key_override_is_not_a_duplicate() -> None:
    assert yamlio.loads("a: &a {k: 1}\nb:\n  <<: *a\n  k: 2\n", "f")["b"]["k"] == 2


def test_locations_are_one_based_value_positions() -> None:
    text = "mlflow_version: '3.17.2'\nmlflow_env:\n  MLFLOW_X: a\nl: [1, 2]\n"
    data = yamlio.loads(text, "g.yml")
    assert data.locs["mlflow_version"] == Location("g.yml", 1, 17)
    assert data["mlflow_env"].locs["MLFLOW_X"] == Location("g.yml", 3, 13)
    assert data["l"].locs[1] == Location("g.yml", 4, 8)


def test_vault_and_unsafe_tags() -> None:
    data = yamlio.loads(
        "p: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\nu: !unsafe '{{ x }}'\n", "f")
    assert isinstance(data["p"], VaultedValue)
    assert "6162" not in repr(data["p"])
    assert str(data["p"]) == "***"
    assert isinstance(data["u"], Unsafe)
    assert data["u"] == "{{ x }}"


def test_oversized_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safeio, "MAX_FILE_BYTES", 10)
    big = tmp_path / "big.yml"
    big.write_text("a: 123456789012\n")
    with pytest.raises(InputError, match="more than the 10 bytes"):
        yamlio.load_file(big)


def test_multiple_documents() -> None:
    assert yamlio.loads_all("a: 1\n---\nb: 2\n", "f") == [{"a": 1}, {"b": 2}]
    with pytest.raises(InputError, match="one YAML document"):
        yamlio.loads("a: 1\n---\nb: 2\n", "f")


def _pyyaml_construction(text: str, display: str) -> list[object]:
    loader = yamlio._Loader(text)
    loader.display_path = display
    try:
        docs = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                docs.append(loader.construct_document(node))
        return docs
    finally:
        loader.dispose()


def _locs(value: object) -> object:
    if isinstance(value, dict):
        return (getattr(value, "loc", None), dict(getattr(value, "locs", {})),
                {repr(k): _locs(v) for k, v in value.items()})
    if isinstance(value, list):
        return (getattr(value, "loc", None), list(getattr(value, "locs", [])),
                [_locs(v) for v in value])
    return (type(value).__name__, repr(value))


GOOD_YAML = sorted(
    p for base in (REPO / "inventories", REPO / "policies", REPO / "tests" / "fixtures")
    for p in base.rglob("*.y*ml") if "/bad/" not in p.as_posix())


def test_direct_build_matches_pyyaml_construction() -> None:
    """Documents without aliases or merge keys skip PyYAML's constructor: values, types
    and every location must be what the constructor gives."""
    compared = 0
    for path in GOOD_YAML:
        text = path.read_text(encoding="utf-8")
        if "*" in text or "<<" in text:
            continue
        try:
            ours = yamlio.loads_all(text, str(path))
        except InputError:
            continue
        theirs = _pyyaml_construction(text, str(path))
        assert ours == theirs, path
        assert _locs(ours) == _locs(theirs), path
        compared += 1
    assert compared > 50


TRICKY = [
    "x: !!set foo\n", ".nan: 1\n.nan: 2\n", "a: 2027-13-01\na: 1\n",
    "x: {y: 1, y: 2}\nz: 1\nx: 3\n", "a: 1\n!!merge x: {b: 2}\n", "x: !!omap foo\n",
    "k: !!pairs bar\n", "a: !vault {x: 1}\na: 2\n", "? [1, 2]\n: x\n",
    "b: !!binary aGVsbG8=\nt: 2024-01-02\nf: -0.0\nn: ~\n", "u: !unsafe '{{ x }}'\n",
    "x: !!str 1\ny: !!int '2'\n", "---\na: 1\n---\nb: 2\n", "",
]


@pytest.mark.parametrize("text", TRICKY)
def test_direct_build_gives_pyyaml_values_or_errors(text: str) -> None:
    """Where the direct walk is taken, values and errors are what PyYAML's constructor
    path gives (the first error of a mapping: a duplicate key before a bad value)."""
    def outcome(load: object) -> object:
        try:
            docs = load()  # type: ignore[operator]
        except InputError as exc:
            return ("error", str(exc))
        except Exception as exc:  # PyYAML's own, unwrapped
            return ("raw-error", type(exc).__name__)
        return ("ok", repr(docs), _locs(docs))

    ours = outcome(lambda: yamlio.loads_all(text, "f.yml"))
    theirs = outcome(lambda: _pyyaml_construction(text, "f.yml"))
    if theirs[0] == "raw-error":
        assert ours[0] == "error"  # ours is located; what failed is the same document
    else:
        assert ours == theirs

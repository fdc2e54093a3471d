"""Secrets never leave us: masking of vaulted values, secret names and URI passwords."""

from __future__ import annotations

import json

import pytest

from mlflow_policy.core import HostFacts, VaultedValue
from mlflow_policy.secrets import MASK, mask, mask_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://mlflow:hunter2@db:5432/mlflow",
         "postgresql://mlflow:***@db:5432/mlflow"),
        ("mysql+pymysql://u:p%40ss@h/db", "mysql+pymysql://u:***@h/db"),
        ("see https://user:tok@h/x and s3://bucket/key", "see https://user:***@h/x and s3://bucket/key"),
        ("https://mlflow.corp:5000/", "https://mlflow.corp:5000/"),
        ("http://h:8080/a@b", "http://h:8080/a@b"),
    ],
)
def test_uri_passwords(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_mask_walks_mappings_and_keeps_non_secrets() -> None:
    env = {
        "MLFLOW_TRACKING_URI": "https://mlflow.corp",
        "MLFLOW_TRACKING_PASSWORD": "hunter2",
        "MLFLOW_TRACKING_TOKEN": "tok",
        "AWS_SECRET_ACCESS_KEY": "abc",
        "AWS_ACCESS_KEY_ID": "AKIA",
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "flask",
        "DB": "postgresql://u:pw@h/db",
        "VAULTED": VaultedValue("6162"),
    }
    out = mask(env, "env")
    assert out["MLFLOW_TRACKING_URI"] == "https://mlflow.corp"
    assert out["AWS_ACCESS_KEY_ID"] == "AKIA"
    for key in ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN", "AWS_SECRET_ACCESS_KEY",
                "MLFLOW_FLASK_SERVER_SECRET_KEY", "VAULTED"):
        assert out[key] == MASK, key
    assert out["DB"] == "postgresql://u:***@h/db"
    blob = json.dumps(out)
    for secret in ("hunter2", "tok\"", "abc", "flask", "pw@", "6162"):
        assert secret not in blob


def test_vaulted_paths_of_a_decrypted_file_are_masked() -> None:
    facts = HostFacts("h", "inv", {"vars": {"db_pass": "plain-after-decrypt"}},
                      vaulted_paths=frozenset({"vars.db_pass"}))
    assert mask(dict(facts.facts), "", facts, vault_marker=True) == {
        "vars": {"db_pass": {"__vault__": True}}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [  # issue 10: the gaps an adversarial review found
        ("postgresql://u:p@ss/w#rd@db/x", "postgresql://u:***@db/x"),
        ("https://h/x?password=abc&b=1", "https://h/x?password=***&b=1"),
        ("https://h/x?access_token=abc", "https://h/x?access_token=***"),
        ("https://h/x?a=1&token=abc#f", "https://h/x?a=1&token=***"),  # a # may be in it
        ("host=db user=u password=s3cr dbname=x", "host=db user=u password=*** dbname=x"),
        ("password='two words' x", "password=*** x"),
        ('line: db_password="unclosed quote', "line: db_password=***"),
        ("Authorization: Bearer abcdefghijk", "Authorization: Bearer ***"),
        ("curl -H 'Bearer abcdefghijk'", "curl -H 'Bearer ***'"),
        ("sudo nopasswd=yes", "sudo nopasswd=yes"),
        ("MLFLOW_TRACKING_URI=http://x:5000", "MLFLOW_TRACKING_URI=http://x:5000"),
    ],
)
def test_credentials_in_text(text: str, expected: str) -> None:
    assert mask_text(text) == expected


@pytest.mark.parametrize(("name", "secret"), [
    ("ansible_become_pass", True), ("ansible_ssh_pass", True), ("ansible_password", True),
    ("ansible_become_password", True), ("ansible_sudo_pass", True), ("db_pwd", True),
    ("ipa_client_sudo_nopasswd_groups", False), ("PWD", False), ("passenger", False),
    ("bypass_cache", False),
])
def test_secret_names(name: str, secret: bool) -> None:
    from mlflow_policy.secrets import is_secret_name

    assert is_secret_name(name) is secret


def test_a_list_of_group_names_stays_readable() -> None:
    groups = ["wheel", "ops"]
    assert mask({"ipa_client_sudo_nopasswd_groups": groups}, "vars") == {
        "ipa_client_sudo_nopasswd_groups": groups}

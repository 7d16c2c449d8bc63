# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure logic of the EncryptionConfiguration file: parsing and the checks kube-apiserver makes
(key sizes as in k8s.io/apiserver v0.37 validation_encryption.go), the plan (never rotate, keep
every old provider, identity last), rendering and redaction."""

from __future__ import annotations

import base64
import datetime
import typing as t

import pytest

from ansible_collections.bulwark.hardening.plugins.module_utils.encryption_config import (
    API_VERSION,
    KIND,
    REDACTED,
    EncryptionConfigError,
    default_key_name,
    parse_encryption_config,
    plan,
    redact,
    render_encryption_config,
    secret_values,
)

PATH = "/etc/kubernetes/bulwark/encryption-config.yaml"
K32 = base64.b64encode(b"A" * 32).decode()
K16 = base64.b64encode(b"B" * 16).decode()
NEW = base64.b64encode(b"N" * 32).decode()


class Keys:
    """A stand-in for os.urandom: the same key each call, and it counts the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return NEW


def config(*groups: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"apiVersion": API_VERSION, "kind": KIND, "resources": list(groups)}


def group(resources: list[str], *providers: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"resources": resources, "providers": list(providers)}


def secretbox(name: str = "old", secret: str = K32) -> dict[str, t.Any]:
    return {"secretbox": {"keys": [{"name": name, "secret": secret}]}}


def aescbc(name: str = "cbc", secret: str = K32) -> dict[str, t.Any]:
    return {"aescbc": {"keys": [{"name": name, "secret": secret}]}}


IDENTITY: dict[str, t.Any] = {"identity": {}}
KMS: dict[str, t.Any] = {"kms": {"apiVersion": "v2", "name": "vault", "endpoint": "unix:///run/kms.sock"}}


def new(provider: str = "secretbox", name: str = "bulwark-1") -> dict[str, t.Any]:
    return {provider: {"keys": [{"name": name, "secret": NEW}]}}


# --------------------------------------------------------------------------- parse


def test_parse_empty_is_no_file() -> None:
    assert parse_encryption_config("", PATH) is None
    assert parse_encryption_config("# nothing yet\n", PATH) is None


def test_parse_round_trip() -> None:
    wanted = config(group(["secrets"], secretbox(), IDENTITY))
    text = render_encryption_config(wanted)
    assert text.startswith("# Managed by bulwark.hardening.kube_encryption_config.")
    assert parse_encryption_config(text, PATH) == wanted


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "apiVersion: apiserver.config.k8s.io/v1\nkind: [\n",
            f"{PATH} is not valid YAML (line 3, column 1: expected the node content, but found '<stream end>');"
            " nothing was changed.",
        ),
        (
            "resources:\n  - a\n  b: c\n",
            f"{PATH} is not valid YAML (line 3, column 3: expected <block end>, but found '?'); nothing was changed.",
        ),
        ("- a\n", f"{PATH} is not an EncryptionConfiguration (the top level is not a mapping); nothing was changed."),
        (
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfig\n",
            f"{PATH}: apiVersion/kind are 'apiserver.config.k8s.io/v1'/'EncryptionConfig', not"
            " 'apiserver.config.k8s.io/v1'/'EncryptionConfiguration'; nothing was changed.",
        ),
        (
            f"apiVersion: {API_VERSION}\nkind: {KIND}\nresources: secrets\n",
            f"{PATH}: resources: expected a list of resource groups; nothing was changed.",
        ),
        (
            f"apiVersion: {API_VERSION}\nkind: {KIND}\nresources:\n- providers: [identity: {{}}]\n",
            f"{PATH}: resources[0].resources: expected a non-empty list of resource names; nothing was changed.",
        ),
        (
            f"apiVersion: {API_VERSION}\nkind: {KIND}\nresources:\n- resources: [secrets]\n  providers: []\n",
            f"{PATH}: resources[0].providers: at least one provider is required; nothing was changed.",
        ),
        (
            f"apiVersion: {API_VERSION}\nkind: {KIND}\nresources:\n- resources: [secrets]\n"
            "  providers: [{identity: {}, secretbox: {}}]\n",
            f"{PATH}: resources[0].providers[0]: a provider is a mapping with exactly one of aescbc, aesgcm,"
            " secretbox, kms, identity; nothing was changed.",
        ),
        (
            f"apiVersion: {API_VERSION}\nkind: {KIND}\nresources:\n- resources: [secrets]\n"
            "  providers: [{chacha: {}}]\n",
            f"{PATH}: resources[0].providers[0]: a provider is a mapping with exactly one of aescbc, aesgcm,"
            " secretbox, kms, identity; nothing was changed.",
        ),
        (
            f"apiVersion: {API_VERSION}\nkind: {KIND}\nresources:\n- resources: [secrets]\n"
            "  providers: [{secretbox: {keys: []}}]\n",
            f"{PATH}: resources[0].providers[0].secretbox.keys: at least one key is required; nothing was changed.",
        ),
        (
            f"apiVersion: {API_VERSION}\nkind: {KIND}\nresources:\n- resources: [secrets]\n"
            "  providers: [{aesgcm: {keys: [{secret: abc}]}}]\n",
            f"{PATH}: resources[0].providers[0].aesgcm.keys[0]: every key needs a non-empty 'name' and a 'secret';"
            " nothing was changed.",
        ),
        (
            f"apiVersion: {API_VERSION}\nkind: {KIND}\nresources:\n- resources: [secrets]\n"
            "  providers: [{aesgcm: {keys: [{name: k1}]}}]\n",
            f"{PATH}: resources[0].providers[0].aesgcm.keys[0] (key 'k1'): the secret is missing or not a string;"
            " nothing was changed.",
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(EncryptionConfigError) as exc:
        parse_encryption_config(text, PATH)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("provider", "secret", "message"),
    [
        ("secretbox", "not base64!", "the secret is not valid base64; kube-apiserver would refuse the file"),
        ("aescbc", K32[:-1], "the secret is not valid base64; kube-apiserver would refuse the file"),
        ("secretbox", K16, "the secret is 16 bytes; secretbox needs 32 bytes (base64 of os.urandom output)"),
        (
            "aescbc",
            base64.b64encode(b"x" * 20).decode(),
            "the secret is 20 bytes; aescbc needs 16 or 24 or 32 bytes (base64 of os.urandom output)",
        ),
        (
            "aesgcm",
            base64.b64encode(b"x" * 64).decode(),
            "the secret is 64 bytes; aesgcm needs 16 or 24 or 32 bytes (base64 of os.urandom output)",
        ),
    ],
)
def test_bad_keys_name_the_key_but_not_the_secret(provider: str, secret: str, message: str) -> None:
    doc = config(
        group(
            ["secrets"],
            IDENTITY,
            {provider: {"keys": [{"name": "good", "secret": K32}, {"name": "k2", "secret": secret}]}},
        )
    )
    with pytest.raises(EncryptionConfigError) as exc:
        parse_encryption_config(render_encryption_config(doc), PATH)
    assert (
        str(exc.value)
        == f"{PATH}: resources[0].providers[1].{provider}.keys[1] (key 'k2'): {message}; nothing was changed."
    )
    assert secret not in str(exc.value)


@pytest.mark.parametrize(
    ("provider", "secret"), [("aescbc", K16), ("aesgcm", K16), ("aescbc", K32), ("secretbox", K32)]
)
def test_key_sizes_kube_apiserver_accepts(provider: str, secret: str) -> None:
    doc = config(group(["secrets"], {provider: {"keys": [{"name": "k", "secret": secret}]}}))
    assert parse_encryption_config(render_encryption_config(doc), PATH) == doc


def test_kms_and_identity_settings_are_not_checked() -> None:
    doc = config(group(["secrets"], KMS, {"identity": None}))
    assert parse_encryption_config(render_encryption_config(doc), PATH) == doc


# --------------------------------------------------------------------------- plan

# (current file, provider, resources, keep_identity, expected file, group, providers, key name, new key)
PLANS: list[tuple[str, t.Any, str, list[str], bool, t.Any, int, tuple[str, ...], str, bool]] = [
    (
        "no file",
        None,
        "secretbox",
        ["secrets"],
        True,
        config(group(["secrets"], new(), IDENTITY)),
        0,
        ("secretbox", "identity"),
        "bulwark-1",
        True,
    ),
    (
        "a file without groups",
        {"apiVersion": API_VERSION, "kind": KIND},
        "aesgcm",
        ["secrets", "configmaps"],
        True,
        config(group(["secrets", "configmaps"], new("aesgcm"), IDENTITY)),
        0,
        ("aesgcm", "identity"),
        "bulwark-1",
        True,
    ),
    (
        "plain text until now",
        config(group(["secrets"], IDENTITY)),
        "secretbox",
        ["secrets"],
        True,
        config(group(["secrets"], new(), IDENTITY)),
        0,
        ("secretbox", "identity"),
        "bulwark-1",
        True,
    ),
    (
        "another provider encrypts: it stays, after the new key",
        config(group(["secrets"], aescbc(), IDENTITY)),
        "secretbox",
        ["secrets"],
        True,
        config(group(["secrets"], new(), aescbc(), IDENTITY)),
        0,
        ("secretbox", "aescbc", "identity"),
        "bulwark-1",
        True,
    ),
    (
        "the provider is further down: moved first, its keys untouched",
        config(group(["secrets"], aescbc(), secretbox("k1"), KMS, IDENTITY)),
        "secretbox",
        ["secrets"],
        True,
        config(group(["secrets"], secretbox("k1"), aescbc(), KMS, IDENTITY)),
        0,
        ("secretbox", "aescbc", "kms", "identity"),
        "k1",
        False,
    ),
    (
        "identity first: the existing key becomes the active one",
        config(group(["secrets"], IDENTITY, secretbox("k1"))),
        "secretbox",
        ["secrets"],
        True,
        config(group(["secrets"], secretbox("k1"), IDENTITY)),
        0,
        ("secretbox", "identity"),
        "k1",
        False,
    ),
    (
        "identity in the middle goes last",
        config(group(["secrets"], secretbox(), IDENTITY, aescbc())),
        "secretbox",
        ["secrets"],
        True,
        config(group(["secrets"], secretbox(), aescbc(), IDENTITY)),
        0,
        ("secretbox", "aescbc", "identity"),
        "old",
        False,
    ),
    (
        "identity missing: added last",
        config(group(["secrets"], secretbox())),
        "secretbox",
        ["secrets"],
        True,
        config(group(["secrets"], secretbox(), IDENTITY)),
        0,
        ("secretbox", "identity"),
        "old",
        False,
    ),
    (
        "keep_identity false drops identity",
        config(group(["secrets"], secretbox(), IDENTITY)),
        "secretbox",
        ["secrets"],
        False,
        config(group(["secrets"], secretbox())),
        0,
        ("secretbox",),
        "old",
        False,
    ),
    (
        "a group listing more resources is edited in place; the other groups are kept",
        config(group(["configmaps"], aescbc("cm")), group(["secrets", "events"], IDENTITY)),
        "secretbox",
        ["secrets"],
        True,
        config(group(["configmaps"], aescbc("cm")), group(["secrets", "events"], new(), IDENTITY)),
        1,
        ("secretbox", "identity"),
        "bulwark-1",
        True,
    ),
    (
        "no group covers the resources: a new one goes first",
        config(group(["configmaps"], aescbc("cm"), IDENTITY)),
        "secretbox",
        ["secrets"],
        True,
        config(group(["secrets"], new(), IDENTITY), group(["configmaps"], aescbc("cm"), IDENTITY)),
        0,
        ("secretbox", "identity"),
        "bulwark-1",
        True,
    ),
    (
        "a core wildcard covers them: a group of their own before it, with its providers",
        config(group(["deployments.apps"], IDENTITY), group(["*."], aescbc("all"), IDENTITY)),
        "secretbox",
        ["secrets"],
        True,
        config(
            group(["deployments.apps"], IDENTITY),
            group(["secrets"], new(), aescbc("all"), IDENTITY),
            group(["*."], aescbc("all"), IDENTITY),
        ),
        1,
        ("secretbox", "aescbc", "identity"),
        "bulwark-1",
        True,
    ),
    (
        "a wildcard of every group covers them",
        config(group(["*.*"], aescbc("all"))),
        "secretbox",
        ["secrets"],
        False,
        config(group(["secrets"], new(), aescbc("all")), group(["*.*"], aescbc("all"))),
        0,
        ("secretbox", "aescbc"),
        "bulwark-1",
        True,
    ),
    (
        "wildcard resources without a group go last, not masking the listed ones",
        config(group(["secrets"], secretbox(), IDENTITY)),
        "secretbox",
        ["*."],
        True,
        config(group(["secrets"], secretbox(), IDENTITY), group(["*."], new(), IDENTITY)),
        1,
        ("secretbox", "identity"),
        "bulwark-1",
        True,
    ),
]


@pytest.mark.parametrize(
    ("current", "provider", "resources", "keep_identity", "after", "index", "providers", "key_name", "created"),
    [case[1:] for case in PLANS],
    ids=[case[0] for case in PLANS],
)
def test_plan(
    current: t.Any,
    provider: str,
    resources: list[str],
    keep_identity: bool,
    after: t.Any,
    index: int,
    providers: tuple[str, ...],
    key_name: str,
    created: bool,
) -> None:
    keys = Keys()
    result = plan(current, provider, resources, keys, key_name="bulwark-1", keep_identity=keep_identity)
    assert result.changed is True
    assert result.after == after
    assert (result.group, result.providers, result.key_name, result.created_key) == (
        index,
        providers,
        key_name,
        created,
    )
    assert keys.calls == int(created)
    assert result.before == current
    # Applying the plan again changes nothing and makes no key.
    again = plan(result.after, provider, resources, keys, key_name="other", keep_identity=keep_identity)
    assert (again.changed, again.after, again.key_name, again.created_key) == (False, after, key_name, False)
    assert keys.calls == int(created)


@pytest.mark.parametrize(
    ("current", "provider", "providers", "key_name"),
    [
        (config(group(["secrets"], secretbox("k1"), IDENTITY)), "secretbox", ("secretbox", "identity"), "k1"),
        # Never rotates: the active key stays, whatever key_name says.
        (
            config(group(["secrets"], aescbc("k2"), secretbox(), IDENTITY)),
            "aescbc",
            ("aescbc", "secretbox", "identity"),
            "k2",
        ),
        # The wildcard group already encrypts them: no group of their own.
        (config(group(["*.*"], secretbox("all"), IDENTITY)), "secretbox", ("secretbox", "identity"), "all"),
    ],
)
def test_converged_file_is_left_alone(current: t.Any, provider: str, providers: tuple[str, ...], key_name: str) -> None:
    keys = Keys()
    result = plan(current, provider, ["secrets"], keys, key_name="bulwark-1")
    assert (result.changed, result.providers, result.key_name, result.created_key) == (
        False,
        providers,
        key_name,
        False,
    )
    assert result.after == current
    assert keys.calls == 0


def test_plan_does_not_change_its_input() -> None:
    current = config(group(["secrets"], aescbc(), IDENTITY))
    snapshot = render_encryption_config(current)
    plan(current, "secretbox", ["secrets"], Keys(), key_name="bulwark-1")
    assert render_encryption_config(current) == snapshot


@pytest.mark.parametrize(
    ("current", "provider", "resources", "message"),
    [
        (
            config(group(["secrets"], IDENTITY), group(["configmaps"], IDENTITY)),
            "secretbox",
            ["secrets", "configmaps"],
            "resources: the resources are encrypted by different groups of the file (secrets in resources[0],"
            " configmaps in resources[1]); give the resources of one group, or list them together in one group by"
            " hand first",
        ),
        (
            config(group(["secrets"], IDENTITY)),
            "secretbox",
            ["secrets", "configmaps"],
            "resources: the resources are encrypted by different groups of the file (secrets in resources[0],"
            " configmaps in none); give the resources of one group, or list them together in one group by hand first",
        ),
        (None, "identity", ["secrets"], "provider: 'identity' is not one of secretbox, aescbc, aesgcm"),
        (None, "secretbox", [], "resources: give at least one resource name, for example 'secrets'"),
        (None, "secretbox", [""], "resources: give at least one resource name, for example 'secrets'"),
        (
            config(group(["secrets"], {"secretbox": {"keys": [{"name": "short", "secret": K16}]}})),
            "secretbox",
            ["secrets"],
            "resources[0].providers[0].secretbox.keys[0] (key 'short'): the secret is 16 bytes; secretbox needs"
            " 32 bytes (base64 of os.urandom output)",
        ),
    ],
)
def test_plan_errors(current: t.Any, provider: str, resources: list[str], message: str) -> None:
    keys = Keys()
    with pytest.raises(EncryptionConfigError) as exc:
        plan(current, provider, resources, keys, key_name="bulwark-1")
    assert str(exc.value) == message
    assert keys.calls == 0


# --------------------------------------------------------------------------- secrets


def test_redact_and_secret_values() -> None:
    doc = config(group(["secrets"], secretbox("k1", K32), aescbc("k2", K16), IDENTITY))
    redacted = redact(doc)
    assert redacted["resources"][0]["providers"] == [
        {"secretbox": {"keys": [{"name": "k1", "secret": REDACTED}]}},
        {"aescbc": {"keys": [{"name": "k2", "secret": REDACTED}]}},
        IDENTITY,
    ]
    assert doc["resources"][0]["providers"][0]["secretbox"]["keys"][0]["secret"] == K32  # a copy
    assert secret_values(doc) == {K32, K16}
    assert secret_values(None) == set()


def test_diff_is_redacted_yaml_text() -> None:
    result = plan(config(group(["secrets"], aescbc("k2", K16))), "secretbox", ["secrets"], Keys(), key_name="bulwark-1")
    diff = result.diff()
    assert NEW not in str(diff) and K16 not in str(diff)
    assert "secret: <redacted>" in diff["before"]
    assert diff["after"].endswith(
        "  providers:\n"
        "  - secretbox:\n"
        "      keys:\n"
        "      - name: bulwark-1\n"
        "        secret: <redacted>\n"
        "  - aescbc:\n"
        "      keys:\n"
        "      - name: k2\n"
        "        secret: <redacted>\n"
        "  - identity: {}\n"
    )
    assert plan(None, "secretbox", ["secrets"], Keys(), key_name="bulwark-1").diff()["before"] == ""


def test_default_key_name_is_utc() -> None:
    cest = datetime.timezone(datetime.timedelta(hours=2))
    assert default_key_name(datetime.datetime(2025, 1, 31, 14, 5, 9, tzinfo=cest)) == "bulwark-20250131120509"

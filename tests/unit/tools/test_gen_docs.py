# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import importlib.util
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]


def _import_gen_docs() -> t.Any:
    spec = importlib.util.spec_from_file_location(
        "bulwark_gen_docs", REPO / "tools" / "gen_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen_docs = _import_gen_docs()

CATALOG_DATA: dict[str, t.Any] = {
    "benchmarks": {
        "CIS-Docker": {"title": "CIS Docker Benchmark", "version": "1.6.0"},
        "BWK": {"title": "Bulwark controls", "version": "1"},
    },
    "controls": [
        {
            "id": "CIS-Docker 2.10",
            "title": "Use the default cgroup",
            "role": "demo",
            "variable": "demo_cgroup",
            "waived_when": False,
            "item": "cgroup-parent",
            "verify": "no cgroup-parent",
        },
        {
            "id": "CIS-Docker 2.2",
            "title": "Restrict traffic | between containers",
            "role": "demo",
            "variable": "demo_icc",
            "waived_when": None,
            "item": "icc",
            "verify": "icc=false",
        },
        {
            "id": "CIS-Docker 3.17",
            "title": "Own daemon.json as root:root",
            "role": "demo",
            "variable": "demo_config_path",
            "verify": "stat",
            "note": "Waived nowhere;\n  kept as O(demo_config_path) says.",
        },
        {
            "id": "CIS-Docker 5.1",
            "title": "A control of a role not written yet",
            "role": "later",
            "variable": "later_x",
            "waived_when": "off",
            "verify": "later",
        },
    ],
}
CATALOG = gen_docs.controls.load_catalog(CATALOG_DATA)

SPECS: dict[str, t.Any] = {
    "argument_specs": {
        "main": {
            "short_description": "Harden the demo.",
            "description": [
                "Manages C(/etc/demo) with M(x).",
                "Setting O(demo_icc) to V(null) waives it.",
            ],
            "options": {
                "demo_icc": {
                    "type": "bool",
                    "default": False,
                    "description": "Allow traffic (CIS Docker 2.2).",
                },
                "demo_level": {
                    "type": "str",
                    "default": "info",
                    "choices": ["info", "warn"],
                    "description": ["Level.", "Second sentence."],
                },
                "demo_ulimits": {
                    "type": "dict",
                    "default": {"nofile": {"Soft": 1, "Hard": 2}},
                    "description": "Ulimits.",
                    "options": {
                        "nofile": {"type": "dict", "description": "Open files."}
                    },
                },
                "demo_registries": {
                    "type": "list",
                    "elements": "str",
                    "default": [],
                    "description": "None | ever.",
                },
                "demo_token": {"required": True, "description": "A required string."},
            },
        },
        "audit": {"short_description": "Only audit.", "options": {}},
    }
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Set O(demo_icc) to V(false).", "Set `demo_icc` to `false`."),
        (
            "Returns RV(item_status) from C(daemon.json).",
            "Returns `item_status` from `daemon.json`.",
        ),
        ("I(italic) and B(bold).", "*italic* and **bold**."),
        (
            "See U(https://example.invalid/x) or L(the docs, https://example.invalid/y).",
            "See <https://example.invalid/x> or [the docs](https://example.invalid/y).",
        ),
        ("Env E(BULWARK_REPORT_PATH).", "Env `BULWARK_REPORT_PATH`."),
        (
            "Uses M(bulwark.hardening.docker_daemon_config) and P(bulwark.hardening.controls_report#callback).",
            "Uses `bulwark.hardening.docker_daemon_config` and `bulwark.hardening.controls_report#callback`.",
        ),
        ("SPACE(x) and TRV(y) stay.", "SPACE(x) and TRV(y) stay."),
    ],
)
def test_markup(text: str, expected: str) -> None:
    assert gen_docs.markup(text) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("a | b", "a \\| b"),
        ("two\n  lines", "two lines"),
        (["a", "list"], "a list"),
        (3, "3"),
    ],
)
def test_cell(data: t.Any, expected: str) -> None:
    assert gen_docs.cell(data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, "`null`"),
        (False, "`false`"),
        ("info", '`"info"`'),
        ([], "`[]`"),
        ({"b": 1, "a": "x"}, '`{"a": "x", "b": 1}`'),
        ("`tick`", "`\"'tick'\"`"),
    ],
)
def test_value(data: t.Any, expected: str) -> None:
    assert gen_docs.value(data) == expected


def test_option_rows() -> None:
    assert gen_docs.option_rows(SPECS["argument_specs"]["main"]["options"]) == [
        ["`demo_icc`", "bool", "`false`", "Allow traffic (CIS Docker 2.2)."],
        [
            "`demo_level`",
            "str",
            '`"info"`',
            'Level. Second sentence. Choices: `"info"`, `"warn"`.',
        ],
        ["`demo_registries`", "list of str", "`[]`", "None \\| ever."],
        ["`demo_token`", "str", "*required*", "A required string."],
        ["`demo_ulimits`", "dict", '`{"nofile": {"Hard": 2, "Soft": 1}}`', "Ulimits."],
        ["`demo_ulimits.nofile`", "dict", "", "Open files."],
    ]


def test_render_role_doc() -> None:
    text = gen_docs.render_role_doc(
        "demo",
        SPECS,
        CATALOG.for_role("demo"),
        ["roles/demo/meta/argument_specs.yml", "meta/controls.yml"],
    )
    assert text == textwrap.dedent("""\
        <!-- generated by tools/gen_docs.py from roles/demo/meta/argument_specs.yml, meta/controls.yml; do not edit -->

        # bulwark.hardening.demo

        Harden the demo.

        Manages `/etc/demo` with `x`.

        Setting `demo_icc` to `null` waives it.

        ## Variables (entry point `main`)

        | Variable | Type | Default | Description |
        | --- | --- | --- | --- |
        | `demo_icc` | bool | `false` | Allow traffic (CIS Docker 2.2). |
        | `demo_level` | str | `"info"` | Level. Second sentence. Choices: `"info"`, `"warn"`. |
        | `demo_registries` | list of str | `[]` | None \\| ever. |
        | `demo_token` | str | *required* | A required string. |
        | `demo_ulimits` | dict | `{"nofile": {"Hard": 2, "Soft": 1}}` | Ulimits. |
        | `demo_ulimits.nofile` | dict |  | Open files. |

        ## Variables (entry point `audit`)

        Only audit.

        This entry point takes no variables.

        ## Controls

        | Control | Title | Variable | Off when | Verified by |
        | --- | --- | --- | --- | --- |
        | `CIS-Docker 2.2` | Restrict traffic \\| between containers | `demo_icc` | `null` | icc=false |
        | `CIS-Docker 2.10` | Use the default cgroup | `demo_cgroup` | `false` | no cgroup-parent |
        | `CIS-Docker 3.17` | Own daemon.json as root:root | `demo_config_path` | never | stat |

        **CIS-Docker 3.17.** Waived nowhere; kept as `demo_config_path` says.

        Statuses in the controls report are explained in [the control catalog](controls.md).
        """)


def test_render_role_doc_without_controls() -> None:
    specs = {"argument_specs": {"main": {"options": {}}}}
    assert gen_docs.render_role_doc(
        "bare", specs, [], ["roles/bare/meta/argument_specs.yml"]
    ) == textwrap.dedent(
        """\
        <!-- generated by tools/gen_docs.py from roles/bare/meta/argument_specs.yml; do not edit -->

        # bulwark.hardening.bare

        ## Variables (entry point `main`)

        This entry point takes no variables.

        ## Controls

        This role enforces no control of [the control catalog](controls.md).
        """
    )


def test_render_controls_doc() -> None:
    text = gen_docs.render_controls_doc(CATALOG, existing_roles=["demo"])
    head, legend = text.split("## Statuses in the controls report\n")
    assert head == textwrap.dedent("""\
        <!-- generated by tools/gen_docs.py from meta/controls.yml; do not edit -->

        # Control catalog

        Every control bulwark.hardening enforces. A role task names the controls it enforces at the end of its
        name (`Disable inter-container communication | CIS-Docker 2.2`), and the
        `bulwark.hardening.controls_report` callback reports each control host by host.

        ## CIS Docker Benchmark 1.6.0 (`CIS-Docker`)

        | Control | Title | Role | Variable | Off when | Item | Verified by |
        | --- | --- | --- | --- | --- | --- | --- |
        | `CIS-Docker 2.2` | Restrict traffic \\| between containers | [demo](demo.md) | `demo_icc` | `null` | `icc` | icc=false |
        | `CIS-Docker 2.10` | Use the default cgroup | [demo](demo.md) | `demo_cgroup` | `false` | `cgroup-parent` | no cgroup-parent |
        | `CIS-Docker 3.17` | Own daemon.json as root:root | [demo](demo.md) | `demo_config_path` | never |  | stat |
        | `CIS-Docker 5.1` | A control of a role not written yet | later | `later_x` | `"off"` |  | later |

        **CIS-Docker 3.17.** Waived nowhere; kept as `demo_config_path` says.

        ## Bulwark controls 1 (`BWK`)

        No controls yet.

        """)
    rows = legend.strip().splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == [
        "| `fail`",
        "| `drift`",
        "| `fixed`",
        "| `pass`",
        "| `waived`",
        "| `n/a`",
        "| `not-checked`",
    ]


# --- the command --------------------------------------------------------------------------------


def _tree(
    root: Path, roles: dict[str, t.Any] | None = None, catalog: t.Any = None
) -> Path:
    catalog = CATALOG_DATA if catalog is None else catalog
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "controls.yml").write_text(
        catalog
        if isinstance(catalog, str)
        else yaml.safe_dump(catalog, sort_keys=False)
    )
    for role, specs in (roles if roles is not None else {"demo": SPECS}).items():
        (root / "roles" / role / "meta").mkdir(parents=True)
        if specs is not None:
            (root / "roles" / role / "meta" / "argument_specs.yml").write_text(
                yaml.safe_dump(specs)
            )
    return root


def test_write_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _tree(tmp_path)
    (root / "docs").mkdir()
    (root / "docs" / "README.md").write_text("# hand written\n")
    (root / "docs" / "gone.md").write_text(
        gen_docs.header(["roles/gone/meta/argument_specs.yml"]) + "\n"
    )

    assert gen_docs.main(["--root", str(root), "--check"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "gen_docs: these files are stale; run `python tools/gen_docs.py` and commit the result:\n"
        "  docs/awx-survey.json (missing)\n"
        "  docs/controls.md (missing)\n"
        "  docs/demo.md (missing)\n"
        "  docs/gone.md (generated, but its source is gone)\n"
    )
    assert not (root / "docs" / "demo.md").exists()  # --check writes nothing

    assert gen_docs.main(["--root", str(root)]) == 0
    assert capsys.readouterr().out == (
        "gen_docs: wrote docs/awx-survey.json (missing)\n"
        "gen_docs: wrote docs/controls.md (missing)\n"
        "gen_docs: wrote docs/demo.md (missing)\n"
        "gen_docs: removed docs/gone.md (generated, but its source is gone)\n"
    )
    assert (root / "docs" / "demo.md").read_text() == gen_docs.render_role_doc(
        "demo",
        SPECS,
        CATALOG.for_role("demo"),
        ["roles/demo/meta/argument_specs.yml", "meta/controls.yml"],
    )
    assert (root / "docs" / "controls.md").read_text() == gen_docs.render_controls_doc(
        CATALOG, ["demo"]
    )
    assert (root / "docs" / "README.md").read_text() == "# hand written\n"

    assert gen_docs.main(["--root", str(root), "--check"]) == 0
    assert capsys.readouterr().out == "gen_docs: 3 generated files are up to date.\n"

    (root / "docs" / "demo.md").write_text(
        (root / "docs" / "demo.md").read_text() + "hand edit\n"
    )
    assert gen_docs.main(["--root", str(root), "--check"]) == 1
    assert "  docs/demo.md (out of date)\n" in capsys.readouterr().err


def test_role_without_argument_specs_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(tmp_path, roles={"demo": None})
    assert gen_docs.main(["--root", str(root), "--check"]) == 2
    assert capsys.readouterr().err == (
        "gen_docs: roles/demo/meta/argument_specs.yml: missing; every role declares its variables there"
        " (ansible-doc and docs/demo.md are generated from it).\n"
    )


@pytest.mark.parametrize(
    ("catalog", "message"),
    [
        (
            {"benchmarks": {}, "controls": []},
            "gen_docs: meta/controls.yml: benchmarks: expected a mapping of benchmark key to {title, version}, got {} (dict).\n",
        ),
        ("controls: [\n", "gen_docs: meta/controls.yml: not valid YAML: "),
    ],
)
def test_bad_catalog_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], catalog: t.Any, message: str
) -> None:
    root = _tree(tmp_path, catalog=catalog)
    assert gen_docs.main(["--root", str(root)]) == 2
    assert capsys.readouterr().err.startswith(message)
    assert not (root / "docs").exists()


def test_bad_argument_specs_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(tmp_path, roles={"demo": {"main": {}}})
    assert gen_docs.main(["--root", str(root), "--check"]) == 2
    assert capsys.readouterr().err == (
        "gen_docs: roles/demo/meta/argument_specs.yml: expected a mapping with an argument_specs mapping at the top.\n"
    )


def test_the_repository_sources_render() -> None:
    """meta/controls.yml and every role's argument_specs.yml of this checkout can be rendered."""
    files = gen_docs.expected_files(REPO)
    assert "docs/controls.md" in files
    role_dirs = (
        sorted(p.name for p in (REPO / "roles").iterdir() if p.is_dir())
        if (REPO / "roles").is_dir()
        else []
    )
    assert sorted(files) == sorted(
        ["docs/awx-survey.json", "docs/controls.md"] + [f"docs/{role}.md" for role in role_dirs]
    )
    for rel, content in files.items():
        if rel.endswith(".json"):
            continue  # JSON has no comment to carry the header
        assert content.startswith("<!-- generated by tools/gen_docs.py from "), rel
        assert content.endswith("\n") and not content.endswith("\n\n"), rel


def test_the_awx_survey_asks_what_a_survey_answer_can_carry() -> None:
    import json

    specs = {
        "demo": {
            "argument_specs": {
                "main": {
                    "options": {
                        "demo_on": {"type": "bool", "default": True, "description": "A switch."},
                        "demo_mode": {"type": "str", "choices": ["a", "b"], "default": "a", "description": ["Pick", "one."]},
                        "demo_token": {"type": "str", "no_log": True, "description": "Secret."},
                        "demo_count": {"type": "int", "default": 3, "description": "How many."},
                        "demo_list": {"type": "list", "elements": "str", "description": "Not askable."},
                        "demo_map": {"type": "dict", "description": "Not askable."},
                    }
                }
            }
        }
    }
    survey = json.loads(gen_docs.render_survey(specs))
    questions = {q["variable"]: q for q in survey["spec"]}
    assert list(questions) == ["bulwark_report_fail_on", "demo_count", "demo_mode", "demo_on", "demo_token"]
    assert questions["demo_on"]["type"] == "multiplechoice" and questions["demo_on"]["choices"] == ["true", "false"]
    assert questions["demo_mode"]["choices"] == ["a", "b"]
    assert questions["demo_mode"]["question_description"] == 'demo: Pick one. Blank: the inventory\'s value, or the default "a".'
    assert questions["demo_token"]["type"] == "password"
    assert questions["demo_count"]["type"] == "integer"
    # A default or a required answer would be an extra var for every host: neither is set.
    assert all(q["default"] == "" and q["required"] is False for q in questions.values())

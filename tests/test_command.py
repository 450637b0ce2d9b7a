"""The `rdlr` command: dispatch to every subcommand, ``python -m rdlr``, ``--version``, and what an install ships."""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import tomllib

import rdlr
from rdlr.cli import SUBCOMMANDS, build_parser, installed_version, main

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_every_subcommand_has_a_parser_and_a_runner():
    parser = build_parser()
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([name, "--help"])
        assert exit_info.value.code == 0


def test_unknown_method_in_a_spec_fails_before_ray_starts(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "id: bad\ndata: {source: demo}\nfeatures: [is10]\nheld_out: [CRE-demo]\n"
        "protocols: {out_of_corpus: [rdrl]}\nseeds: [0]\n"
    )
    code = main(["sweep", str(spec), "--storage", str(tmp_path / "runs")])
    assert code != 0
    assert "unknown method 'rdrl'" in capsys.readouterr().err


def test_version_prints_the_installed_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"rdlr {installed_version()}\n"


def test_version_falls_back_to_the_package_string_when_not_installed(monkeypatch):
    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    assert installed_version() == rdlr.__version__


def test_python_dash_m_rdlr_runs_the_command(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["rdlr", "--version"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("rdlr", run_name="__main__")
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"rdlr {installed_version()}\n"


def test_a_non_editable_install_ships_every_package_and_the_packaged_specs():
    """pyproject lists packages explicitly (sweeps/ installs as rdlr.sweeps): every package under rdlr/ must be in
    the list, and the data files ``rdlr reproduce --demo`` reads must match the package-data patterns."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    setuptools = config["tool"]["setuptools"]
    found = {".".join(path.parent.relative_to(REPO_ROOT).parts) for path in (REPO_ROOT / "rdlr").rglob("__init__.py")}
    assert set(setuptools["packages"]) == found | {"rdlr.sweeps"}
    assert setuptools["package-dir"] == {"rdlr.sweeps": "sweeps"}
    assert config["project"]["version"] == rdlr.__version__
    data = setuptools["package-data"]
    for package, name in (
        ("rdlr.sweeps", "demo.yaml"),
        ("rdlr.sweeps", "table2.yaml"),
        ("rdlr.sweeps", "table3.yaml"),
        ("rdlr", "data/paper_results.csv"),
    ):
        folder = REPO_ROOT / setuptools["package-dir"].get(package, package.replace(".", "/"))
        assert (folder / name).is_file() and any((folder / name).match(f"*/{pattern}") for pattern in data[package])


def test_no_command_prints_the_help(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "usage: rdlr" in err and "reproduce" in err and "predict" in err


@pytest.mark.slow
def test_top_level_help_imports_neither_torch_nor_ray():
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['rdlr', '--help']\n"
        "try:\n"
        "    runpy.run_module('rdlr', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted({'torch', 'ray', 'pandas'} & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "usage: rdlr" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_lazy_package_attributes_still_resolve():
    assert rdlr.losses.__name__ == "rdlr.losses"
    assert callable(rdlr.load_model)


def _help_of(name: str, capsys) -> str:
    with pytest.raises(SystemExit):
        build_parser([name]).parse_args([name, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_help_texts_name_what_a_user_needs(capsys):
    from rdlr.spec.files import packaged_specs

    reproduce_help = _help_of("reproduce", capsys)
    assert all(spec in reproduce_help for spec in packaged_specs())
    assert "required (except for demo): --out OUT" in _help_of("prepare", capsys)
    assert "--protocol {out_of_corpus,within_corpus} which of the sweep's protocols" in _help_of("export", capsys)


def test_train_and_sweep_share_the_default_feature_store():
    """``rdlr train``'s default --store is the store ``rdlr sweep`` / ``reproduce`` fill by default for every
    packaged spec, so features are extracted once."""
    from rdlr.commands.options import DEFAULT_FEATURE_STORE, DEFAULT_STORAGE
    from rdlr.spec.core import load_spec
    from rdlr.spec.files import packaged_specs
    from rdlr.sweep.inputs import feature_store_uri

    assert {feature_store_uri(load_spec(name), DEFAULT_STORAGE) for name in packaged_specs()} == {DEFAULT_FEATURE_STORE}
    assert (
        build_parser(["train"])
        .parse_args(["train", "--manifest", "m.csv", "--features", "is10", "--method", "ce", "--out", "m"])
        .store
        == DEFAULT_FEATURE_STORE
    )


def test_commands_live_in_one_package_and_the_top_level_stays_small():
    """One module per subcommand in rdlr/commands/, no other cli.py, at most 12 modules at the top of rdlr/."""
    package = REPO_ROOT / "rdlr"
    assert sorted(p.relative_to(package).as_posix() for p in package.rglob("cli.py")) == ["cli.py"]
    assert {target for target, _ in SUBCOMMANDS.values()} == {f"rdlr.commands.{name}" for name in SUBCOMMANDS}
    assert all((package / "commands" / f"{name}.py").is_file() for name in SUBCOMMANDS)
    assert len(list(package.glob("*.py"))) <= 12


@pytest.mark.parametrize(
    "option",
    [
        "--address",
        "--device",
        "--w2v-checkpoint",
        "--whisper-checkpoint",
        "--bert-dir",
        "--workers",
        "--autoscaler-config",
        "--verbose",
        "--mlflow",
        "--no-progress",
        "--all-rows",
        "--selection",
        "--overwrite",
    ],
)
def test_a_shared_option_is_declared_once(option):
    declaration = re.compile(r"add_argument\(\s*" + re.escape(f'"{option}"'))
    declared = [
        path.name
        for path in (REPO_ROOT / "rdlr").rglob("*.py")
        for _ in declaration.finditer(path.read_text(encoding="utf-8"))
    ]
    assert declared == ["options.py"]


def test_every_device_option_has_one_default(capsys):
    defaults = {}
    for name in SUBCOMMANDS:
        parser = build_parser([name])
        sub = next(action for action in parser._actions if action.dest == "command").choices[name]
        for action in sub._actions:
            if action.dest == "device":
                defaults[name] = action.default
    assert set(defaults) == {"extract", "reproduce", "train", "predict", "export"}
    assert set(defaults.values()) == {"auto"}

"""Hostile YAML and JSON (rdlr.io.safe_text and its callers): alias bombs, deep nesting, oversized files and huge
integers are one line naming the file, refused before anything is built; ordinary documents, anchors and merge keys
read as before. Time and memory of the refusals: benchmarks/bench_hostile_documents.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rdlr.io.safe_text import MAX_BYTES, MAX_DEPTH, DocumentError, parse_json, parse_yaml, read_json, read_yaml
from rdlr.spec.core import SpecError, load_spec
from tests.helpers.sweep_cli import refuse_ray, run_sweep_cli

SPEC = "id: hostile\ndata: {source: demo}\nfeatures: [is10]\nheld_out: [CRE-demo]\nprotocols: {out_of_corpus: [ce]}\n"


def billion_laughs(levels: int = 9) -> str:
    """The classic alias bomb: 9 aliases of the level below, ``levels`` deep (9**9 ≈ 387 million strings)."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def nested_yaml(levels: int) -> str:
    return "training: " + "[" * levels + "1" + "]" * levels + "\n"


@pytest.fixture
def no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_ray(monkeypatch, "the spec cannot be read")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SPEC + billion_laughs(), "more than 100000 values once its aliases (*name) are expanded (line 11)"),
        (SPEC + nested_yaml(3000), f"nested more than {MAX_DEPTH} levels deep"),
        (SPEC + "training: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", f"nested more than {MAX_DEPTH} levels deep"),
        (SPEC + f"description: {'x' * MAX_BYTES}\n", f"more than {MAX_BYTES} bytes (1 MiB)"),
        (SPEC + f"seeds: [{'9' * 5000}]\n", "an integer of more than 64 digits (line 6)"),
    ],
)
def test_hostile_specs_are_one_line_before_ray(tmp_path: Path, capsys, no_ray, text: str, message: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    assert run_sweep_cli(str(path), "--storage", str(tmp_path / "runs")) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rdlr sweep: error: {path}: ") and message in err and err.count("\n") == 1, err


def test_anchors_merge_keys_and_moderate_nesting_still_read(tmp_path: Path) -> None:
    text = SPEC + "base: &b {max_epochs: 3, patience: 2}\ntraining: {<<: *b, max_epochs: 4}\n"
    assert parse_yaml(text, "spec.yaml")["training"] == {"max_epochs": 4, "patience": 2}
    assert parse_yaml(nested_yaml(MAX_DEPTH - 1), "x.yaml")["training"] is not None
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.replace("[ce]", "&methods [ce]") + "seeds: [0]\n")
    assert load_spec(path).id == "hostile"


def test_a_syntax_error_is_one_line_naming_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC + "training: {max_epochs: [3}\n")
    with pytest.raises(SpecError) as error:
        load_spec(path)
    assert str(error.value).startswith(f"{path}: not valid YAML: ") and "\n" not in str(error.value)
    assert "(line 6, column 26)" in str(error.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, f"nested more than {MAX_DEPTH} levels deep"),
        ('{"hidden_size": ' + "9" * 5000 + "}", "an integer of more than 64 digits"),
        ('{"a": 1', "not valid JSON: Expecting ',' delimiter: line 1 column 8 (char 7)"),
        (" " * (MAX_BYTES + 1), f"more than {MAX_BYTES} bytes"),
        (b'{"a": "\xff"}', "not UTF-8 text (byte 7)"),
    ],
)
def test_hostile_json_is_one_line_naming_the_file(tmp_path: Path, text: str | bytes, message: str) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(DocumentError) as error:
        read_json(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value) and "\n" not in str(error.value)


def test_brackets_inside_json_strings_do_not_count_as_nesting() -> None:
    document = {"text": "[" * 1000 + '\\"{' * 100, "rows": [[1, 2], {"a": [3]}], "big": 10**60}
    assert parse_json(json.dumps(document), "x.json") == document


def test_the_package_readers_use_the_bounds(tmp_path: Path) -> None:
    """Feature store config, figures file, HF config.json, autoscaler config, saved spec, trial rows."""
    from rdlr.cluster.capacity import read_autoscaler_config
    from rdlr.features.local_models import hidden_size
    from rdlr.features.store import FeatureStore
    from rdlr.sweep.cost import FiguresError, load_figures
    from rdlr.sweep.files import SweepFiles

    deep = "[" * 5000 + "]" * 5000
    (tmp_path / "figures.json").write_text(deep)
    with pytest.raises(FiguresError, match="nested more than"):
        load_figures(tmp_path / "figures.json")
    model = tmp_path / "hf"
    model.mkdir()
    (model / "config.json").write_text(deep)
    with pytest.raises(DocumentError, match="config.json: nested more than"):
        hidden_size(model, "hf encoder")
    (tmp_path / "cluster.yaml").write_text(billion_laughs())
    with pytest.raises(DocumentError, match="cluster.yaml: more than 100000 values"):
        read_autoscaler_config(tmp_path / "cluster.yaml")
    store = FeatureStore(tmp_path / "store")
    store.write_config("is10", "abc", {"config": {}})
    config = Path(store._path("is10", "abc", "config.json"))
    config.write_text(deep)
    with pytest.raises(DocumentError, match="config.json: nested more than"):
        store.read_config("is10", "abc")
    files = SweepFiles(tmp_path / "runs", "s")
    files.dir.write(billion_laughs().encode(), "spec.yaml")
    with pytest.raises(DocumentError, match="s/spec.yaml: more than 100000 values"):
        files.read_saved_spec()
    files.dir.write(deep.encode(), "trials", "k.json")
    with pytest.raises(DocumentError, match="trials/k.json: nested more than"):
        files.read_row("k")
    path = tmp_path / "plain.yaml"
    path.write_text("a: [1, 2]\n")
    assert read_yaml(path) == {"a": [1, 2]}

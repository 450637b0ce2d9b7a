"""What ``rdlr sweep`` refuses before Ray starts: duplicate YAML keys, ids YAML reads as numbers or nothing,
non-finite numbers, seeds NumPy cannot take, corpora the manifests do not hold, storage that cannot be written; and
spec ids that look like numbers or missing values (``007``, ``1e3``, ``NA``, ``null``) round-trip through
results.csv and resume without doubling a row."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from rdlr.results import read_results, trial_key
from rdlr.spec.core import SpecError, SweepSpec, load_spec
from rdlr.sweep.collector import ResultSink
from rdlr.sweep.files import SweepFiles, read_results_uri
from tests.helpers.specs import demo_raw
from tests.helpers.sweep_cli import refuse_ray, run_sweep_cli

SPEC_YAML = """\
id: {id}
data: {{source: demo}}
features: [is10]
held_out: [CRE-demo]
protocols: {{out_of_corpus: [ce]}}
seeds: [0, 1]
"""
BASE = demo_raw("checks")


def write_spec(folder: Path, text: str) -> Path:
    path = folder / "spec.yaml"
    path.write_text(text)
    return path


def test_duplicate_keys_are_an_error_naming_both_lines(tmp_path: Path) -> None:
    text = SPEC_YAML.format(id="dup") + "training: {max_epochs: 3}\nseeds: [7]\n"
    with pytest.raises(SpecError, match=r"spec.yaml: duplicate key 'seeds' \(line 8; first at line 6\)"):
        load_spec(write_spec(tmp_path, text))
    nested = SPEC_YAML.format(id="dup").replace("[ce]}", "[ce], out_of_corpus: [lr]}")
    with pytest.raises(SpecError, match=r"duplicate key 'out_of_corpus' \(line 5"):
        load_spec(write_spec(tmp_path, nested))
    merged = SPEC_YAML.format(id="merge") + "base: &b {max_epochs: 3, patience: 2}\n"
    with pytest.raises(SpecError, match="unknown key 'base'"):  # merge keys still work; the schema sees the rest
        load_spec(write_spec(tmp_path, merged + "training: {<<: *b, max_epochs: 4}\n"))


@pytest.mark.parametrize(
    ("written", "read_as"),
    [("007", "the number 7"), ("2.50", "the number 2.5"), ("null", "nothing (null)"), ("yes", "the boolean true")],
)
def test_an_id_yaml_reads_as_a_number_or_nothing_must_be_quoted(tmp_path: Path, written: str, read_as: str) -> None:
    expected = f"id: YAML reads the unquoted '{written}' as {read_as}; a spec id is text: quote it (id: \"{written}\")"
    with pytest.raises(SpecError, match=re.escape(expected)):
        load_spec(write_spec(tmp_path, SPEC_YAML.format(id=written)))
    assert load_spec(write_spec(tmp_path, SPEC_YAML.format(id=f'"{written}"'))).id == written


@pytest.mark.parametrize("written", ["1e3", "1.5e3", "NA", "nan"])
def test_ids_yaml_reads_as_text_are_used_as_written(tmp_path: Path, written: str) -> None:
    assert load_spec(write_spec(tmp_path, SPEC_YAML.format(id=written))).id == written


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"training": {"lr": float("inf")}}, r"training\.lr must be a finite number, got inf"),
        ({"search": {"space": {"gamma": [0.1, float("nan")]}}}, r"search\.space\.gamma\[1\] must be a finite number"),
        ({"resources": {"cpus_per_trial": float("inf")}}, r"resources\.cpus_per_trial must be a finite number"),
        (
            {"seeds": [0, 2**32]},
            r"seeds: seeds must be integers in 0\.\.4294967295 \(2\*\*32 - 1\), got \[0, 4294967296\]",
        ),
        ({"seeds": [-1]}, r"seeds: seeds must be integers in 0\.\.4294967295"),
        ({"data": {"source": "demo", "split_seed": 2**40}}, r"data\.split_seed, data\.demo_seed: seeds must be"),
        ({"search": {"sampler_seed": 2**32}}, r"search\.sampler_seed: seeds must be integers"),
    ],
)
def test_non_finite_numbers_and_seeds_out_of_range_are_rejected(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        SweepSpec.from_dict({**BASE, **changes})


def test_yaml_infinities_in_a_spec_file_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"training\.lr must be a finite number, got inf"):
        load_spec(write_spec(tmp_path, SPEC_YAML.format(id="inf") + "training: {lr: .inf}\n"))


@pytest.fixture
def no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_ray(monkeypatch, "the sweep cannot run")


def test_unknown_corpora_of_a_manifests_spec_are_found_before_ray(tmp_path: Path, capsys, no_ray) -> None:
    rows = []
    for corpus, label in (("A", "angry"), ("B", "sad"), ("LIB", "")):
        path = tmp_path / f"{corpus}.wav"
        sf.write(path, np.zeros(1600, dtype=np.float32), 16000)
        rows.append({"utt_id": f"{corpus}1", "path": str(path), "corpus": corpus, "speaker": "s", "label": label})
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    spec = {**BASE, "id": "m", "data": {"source": "manifests", "manifests": ["m.csv"]}, "held_out": ["A", "C"]}
    for changes, message in (
        ({}, "held_out: unknown corpus 'C': no row of data.manifests names it; the manifests hold: A, B, LIB"),
        ({"held_out": ["A"], "unlabeled": "LIBRI"}, "unlabeled: unknown corpus 'LIBRI'"),
        ({"held_out": ["LIB"]}, "held-out corpus 'LIB' has no labeled utterances"),
    ):
        path = write_spec(tmp_path, yaml.safe_dump({**spec, **changes}))
        assert run_sweep_cli(str(path), "--data-root", str(tmp_path), "--storage", str(tmp_path / "runs")) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1


def test_unwritable_storage_is_one_line_before_ray(tmp_path: Path, capsys, no_ray) -> None:
    (tmp_path / "file").write_text("x")
    storage = tmp_path / "file" / "runs"
    assert run_sweep_cli("demo", "--storage", str(storage)) == 2
    assert capsys.readouterr().err == (
        f"rdlr sweep: error: storage path {storage} cannot be created: {tmp_path / 'file'} is a file, not a folder\n"
    )


def result_row(spec_id: str, seed: int, config: str, held_out: str) -> dict[str, Any]:
    return {
        "spec_id": spec_id,
        "protocol": "out_of_corpus",
        "features": "is10",
        "method": "ce",
        "held_out": held_out,
        "seed": seed,
        "config_id": config,
        "hparams": "{}",
        "val_ua": 0.5,
        "test_ua": 0.4,
        "epochs": 2,
        "best_epoch": 1,
        "wall_time_s": 1.0,
        "trial_id": f"t{seed}{config}",
    }


@pytest.mark.parametrize("spec_id", ["007", "1e3", "NA", "null"])
def test_number_like_and_missing_like_ids_round_trip_through_results_and_resume(tmp_path: Path, spec_id: str) -> None:
    files = SweepFiles(tmp_path, spec_id)
    rows = [
        result_row(spec_id, seed, config, held_out)
        for seed in (0, 1)
        for config, held_out in (("0012", "NA"), ("1e10", "null"), ("abc", "007"))
    ]
    files.write_results(rows[:4])
    for row in rows[4:]:
        files.write_row(trial_key(row), row)
    for _ in range(2):  # two resumes: rows gathered from results.csv and trials/ are the same trials
        sink = ResultSink(files, planned=len(rows), log=lambda line: None)
        assert sorted(sink.rows) == sorted(trial_key(row) for row in rows)
        sink.flush()
    table = read_results(tmp_path / spec_id)
    assert len(table) == len(rows) and set(table["spec_id"]) == {spec_id}
    assert sorted(table["config_id"].unique()) == ["0012", "1e10", "abc"]
    assert sorted(table["held_out"].unique()) == ["007", "NA", "null"]
    assert read_results_uri(files.results_uri)["spec_id"].tolist() == [spec_id] * len(rows)
    naive = pd.read_csv(io.BytesIO((tmp_path / spec_id / "results.csv").read_bytes()))
    assert naive["spec_id"].astype(str).tolist() != [spec_id] * len(rows)  # why dtypes must be explicit

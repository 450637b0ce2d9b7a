"""``rdlr extract`` exit status: 1 when a corpus got no vectors (any failure with ``--strict``); errors by reason."""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np
import pandas as pd
import soundfile as sf

from rdlr.commands import extract as cli
from rdlr.features.pipeline import CorpusCounts, ExtractSummary

SR = 16_000


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="rdlr extract")
    cli.configure_parser(parser)
    return cli.run(parser.parse_args(list(argv)))


def write_manifest(folder, corpus: str, present: int, missing: int) -> str:
    rows = []
    for i in range(present + missing):
        path = folder / f"{corpus}{i}.wav"
        if i < present:
            t = np.arange(int(0.5 * SR)) / SR
            sf.write(path, (0.3 * np.sin(2 * np.pi * (150 + 30 * i) * t)).astype(np.float32), SR)
        rows.append(
            {"utt_id": f"{corpus}-{i}", "path": str(path), "corpus": corpus, "speaker": "s1", "label": "neutral"}
        )
    manifest = folder / f"{corpus}.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return str(manifest)


def counts(corpus: str, total: int, present=0, extracted=0, failed_before=0, **errors: int) -> CorpusCounts:
    return CorpusCounts(
        "is10",
        "abc",
        corpus,
        total,
        present=present,
        failed_before=failed_before,
        extracted=extracted,
        errors=Counter(errors),
    )


def test_failures_without_and_with_strict():
    summary = ExtractSummary(
        "store",
        [
            counts("A", 4, present=1, extracted=2, missing_file=1),
            counts("B", 3, failed_before=1, unreadable=2),
            counts("C", 2, present=2),
        ],
    )
    assert cli.extraction_failures(summary, strict=False) == [
        "nothing extracted for is10 / B: all 3 utterances failed (unreadable ×2, failed before ×1)"
    ]
    strict = cli.extraction_failures(summary, strict=True)
    assert strict[0] == "--strict: 1 of 4 utterances of is10 / A have no vector (missing_file ×1)" and len(strict) == 2
    assert cli.errors_line(summary) == "errors by reason: unreadable ×2, missing_file ×1"
    assert cli.extraction_failures(ExtractSummary("store", [counts("C", 2, present=2)]), strict=True) == []
    assert cli.errors_line(ExtractSummary("store", [counts("C", 2, present=2)])) == "errors by reason: none"


def test_missing_files_exit_1_and_strict_fails_on_any(ray_session, tmp_path, capsys):
    partly = write_manifest(tmp_path, "A", present=1, missing=1)
    nothing = write_manifest(tmp_path, "B", present=0, missing=2)
    options = ["--features", "is10", "--store", str(tmp_path / "store"), "--workers", "1", "--no-progress"]
    assert run_cli("--manifest", partly, "--manifest", nothing, *options) == 1
    out, err = capsys.readouterr()
    assert "errors by reason: missing file ×3" in out
    assert "nothing extracted for is10 / B: all 2 utterances failed (missing file ×2)" in err
    assert "is10 / A" not in err
    assert run_cli("--manifest", partly, *options) == 0  # A has a vector; its failure alone is not fatal
    assert "errors by reason: none" in capsys.readouterr().out
    assert run_cli("--manifest", partly, *options, "--strict") == 1
    assert "--strict: 1 of 2 utterances of is10 / A have no vector (failed before ×1)" in capsys.readouterr().err

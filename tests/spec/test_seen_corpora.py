"""The contamination guard: ``seen_corpora`` refuses a job tested on a corpus its features' backbone saw (one line,
before Ray starts) unless ``allow_seen``; ``rdlr train --seen-corpora``; the report marks and explains such cells."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import pytest
import yaml

from rdlr.commands.train import check_test_corpora
from rdlr.features.seen import SEEN_MARK, parse_seen_options, seen_by
from rdlr.report.build import render_report
from rdlr.spec import SpecError, SweepSpec
from tests.report.test_tables import OWN_SPEC, make_results

REPO = Path(__file__).resolve().parents[2]


def demo_spec(**changes) -> dict:
    raw = yaml.safe_load((REPO / "sweeps" / "demo.yaml").read_text())
    raw.update({"features": ["whisper@1", "whisper@2"], "models": {"whisper": "tiny.pt"}, **changes})
    return raw


def test_a_name_without_a_layer_covers_every_layer():
    seen = {"whisper": ["IEM"], "hf:/models/wavlm@3": ["CRE"]}
    assert seen_by("is10+whisper@6", "IEM", seen) == ["whisper"]
    assert seen_by("whisper", "IEM", seen) == ["whisper"] and seen_by("whisper@6", "CRE", seen) == []
    assert seen_by("hf:/other/wavlm@3", "CRE", seen) == ["hf:/models/wavlm@3"]  # matched by store name
    assert seen_by("hf:/models/wavlm@4", "CRE", seen) == []
    assert parse_seen_options(["whisper=IEM, CRE", "whisper=POD"]) == {"whisper": ("IEM", "CRE", "POD")}
    with pytest.raises(ValueError, match="write FEATURE_SET=CORPUS"):
        parse_seen_options(["whisper"])


def test_spec_refuses_a_held_out_corpus_the_backbone_saw_in_one_line():
    with pytest.raises(SpecError) as error:
        SweepSpec.from_dict(demo_spec(seen_corpora={"whisper": ["IEM-demo", "MELD"]}), where="s.yaml")
    message = str(error.value)
    assert "\n" not in message and "'whisper@1'" in message and "'IEM-demo'" in message
    assert "allow_seen: true" in message
    allowed = SweepSpec.from_dict(demo_spec(seen_corpora={"whisper": ["IEM-demo"]}, allow_seen=True))
    assert allowed.to_dict()["seen_corpora"] == {"whisper": ["IEM-demo"]} and allowed.allow_seen
    assert "seen_corpora" not in SweepSpec.from_dict(demo_spec()).to_dict()  # unset: the spec reads as before
    SweepSpec.from_dict(demo_spec(seen_corpora={"whisper@2": ["MELD"]}))  # a corpus no job tests on: fine
    with pytest.raises(SpecError, match="seen_corpora: 'wisper' names no feature set of this spec"):
        SweepSpec.from_dict(demo_spec(seen_corpora={"wisper": ["IEM-demo"]}))


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (["whisper@all"], r"features\[0\]: 'whisper@all' is every layer; list the layers"),
        (["whisper@x"], r"features\[0\]: feature set 'whisper@x': malformed layer suffix"),
        (["is10@3"], r"features\[0\]: feature set 'is10@3': is10 has no layers"),
    ],
)
def test_spec_layer_names_are_checked(features, message):
    with pytest.raises(SpecError, match=message):
        SweepSpec.from_dict(demo_spec(features=features))


def test_rdlr_train_refuses_a_test_corpus_the_backbone_saw(tmp_path, capsys):
    manifest = tmp_path / "emo.csv"
    rows = {"utt_id": ["a"], "path": ["a.wav"], "corpus": ["EMODB"], "label": ["angry"], "speaker": ["s"]}
    pd.DataFrame(rows).to_csv(manifest, index=False)
    args = argparse.Namespace(
        features="whisper@6", test_manifest=[str(manifest)], seen_corpora=["whisper=EMODB"], allow_seen=False
    )
    with pytest.raises(ValueError, match="features 'whisper@6' on held-out corpus 'EMODB'"):
        check_test_corpora(args)
    check_test_corpora(argparse.Namespace(**{**vars(args), "allow_seen": True}))
    assert "saw EMODB" in capsys.readouterr().out


def test_report_marks_and_explains_the_cells_a_backbone_saw(tmp_path):
    spec = {**OWN_SPEC, "seen_corpora": {"w2v": ["IEM"]}, "allow_seen": True}
    index = render_report(make_results(spec_id="mine"), tmp_path, spec=spec, plots=False)
    table = (index.parent / "main.md").read_text()
    marked = [line for line in table.splitlines() if SEEN_MARK in line and line.startswith("|")]
    assert len(marked) == 2 and all(line.count(SEEN_MARK) == 1 for line in marked)  # the two is10+w2v rows, IEM
    assert f"{SEEN_MARK} is10+w2v: the backbone of w2v saw IEM in training" in table
    assert (
        SEEN_MARK
        not in (
            render_report(make_results(spec_id="mine"), tmp_path / "plain", spec=dict(OWN_SPEC), plots=False).parent
            / "main.md"
        ).read_text()
    )
    csv = pd.read_csv(index.parent / "main.csv")
    assert csv.loc[csv["features"] == "is10+w2v", "IEM_seen"].all() and not csv["CRE_seen"].any()

"""Manifests shaped like the documented corpora (rdlr.corpora.shape): the paper's counts and split structure."""

from __future__ import annotations

import pytest

from rdlr.corpora.shape import ShapeError, demo_manifest, shaped_manifest
from rdlr.corpora.splits import assign_roles
from rdlr.labels import CLASSES, label_set


def test_paper_corpora_have_table_1_counts_and_their_split_structure() -> None:
    cre = shaped_manifest("cremad", "CRE")  # the paper's four classes (paper4) by default: Table 1's counts
    assert len(cre) == 4_899 and cre["speaker"].nunique() == 91
    assert cre["label"].value_counts().to_dict() == {"happy": 1271, "sad": 1270, "angry": 1271, "neutral": 1087}
    six = shaped_manifest("cremad", "CRE", labels=label_set(["neutral", "happy", "sad", "angry", "fear", "disgust"]))
    assert len(six) == 7_441 and six["label"].value_counts()["fear"] == 1271
    iem = shaped_manifest("iemocap", "IEM")  # excited merged into happy (paper4)
    assert iem["label"].value_counts().to_dict() == {"neutral": 1708, "happy": 1636, "angry": 1103, "sad": 1084}
    iem, imp = shaped_manifest("iemocap", "IEM"), shaped_manifest("msp_improv", "IMP")
    assert iem.groupby("session")["speaker"].nunique().tolist() == [2] * 5
    assert imp.groupby("session")["speaker"].nunique().tolist() == [2] * 6 and len(imp) == 7_798
    pod = shaped_manifest("msp_podcast", "POD")
    assert pod["partition"].value_counts().to_dict() == {"train": 28_602, "test": 12_787, "val": 4_772}
    assert pod.groupby("speaker")["partition"].nunique().max() == 1  # no speaker crosses a partition
    lib = shaped_manifest("librispeech", "LIB")
    assert len(lib) == 28_539 and (lib["label"] == "").all() and lib["speaker"].nunique() == 251


def test_shapes_take_the_paper_splits_and_unknown_counts_are_an_error() -> None:
    roles = assign_roles(shaped_manifest("iemocap", "IEM"), "within_corpus", "IEM", seed=0).value_counts()
    assert roles.to_dict() == {"train": 4_425, "val": 553, "test": 553}
    with pytest.raises(ShapeError, match="documents no utterance counts; .*--data-root"):
        shaped_manifest("csv", "MYCORPUS")
    esd = shaped_manifest("esd", "ESD-en")  # ESD ReadMe: 10 speakers per language, 350 utterances per emotion
    assert esd["label"].value_counts().to_dict() == dict.fromkeys(CLASSES, 3500)
    assert esd["speaker"].nunique() == 10
    with pytest.raises(ShapeError, match="unknown loader 'nosuch'"):
        shaped_manifest("nosuch", "X")


def test_demo_shape_matches_the_demo_config() -> None:
    demo = demo_manifest()
    assert demo.groupby("corpus").size().to_dict() == {
        "CRE-demo": 320,
        "IEM-demo": 320,
        "IMP-demo": 320,
        "POD-demo": 320,
        "LIB-demo": 200,
    }
    assert set(demo.loc[demo["corpus"] != "LIB-demo", "label"]) <= set(CLASSES)

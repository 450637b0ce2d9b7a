"""The class sets of rdlr.labels: the vocabulary, named sets and their merges, label maps, what they leave out, the
errors that name the key, and the spec keys ``labels`` / ``label_map``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rdlr.labels import (
    CLASSES,
    DEFAULT,
    NAMED_SETS,
    VOCABULARY,
    LabelSetError,
    label_set,
    parse_label_map_options,
)
from rdlr.spec import SpecError, SweepSpec, load_spec


def test_the_default_is_the_papers_four_with_iemocaps_excited_merged_into_happy() -> None:
    assert DEFAULT.classes == CLASSES == ("neutral", "happy", "sad", "angry") and DEFAULT.name == "paper4"
    assert label_set("paper4") == DEFAULT and DEFAULT.is_default
    mapped = DEFAULT.map_labels(["IEM", "IEM", "CRE", "CRE", "LIB"], ["excited", "frustrated", "excited", "sad", ""])
    assert mapped.tolist() == ["happy", None, None, "sad", ""]


def test_named_sets_use_the_vocabulary_and_document_their_merges() -> None:
    for name, entry in NAMED_SETS.items():
        chosen = label_set(name)
        assert chosen.classes == entry.classes and chosen.name == name and entry.description
        for mapping in chosen.label_map.values():
            assert set(mapping) <= set(VOCABULARY)
    arousal, valence = label_set("arousal"), label_set("valence")
    assert arousal.map_labels(["X"] * 3, ["calm", "angry", "other"]).tolist() == ["low", "high", None]
    assert valence.map_labels(["X"] * 2, ["neutral", "excited"]).tolist() == [None, "positive"]
    assert label_set("ekman").num_classes == 7


def test_a_label_map_merges_drops_and_a_corpus_entry_wins_over_the_star() -> None:
    six = label_set(
        ["neutral", "happy", "sad", "angry", "fear", "disgust"],
        {"*": {"calm": "neutral", "boredom": None}, "EMODB": {"boredom": "sad"}},
    )
    assert six.name is None and six.num_classes == 6
    mapped = six.map_labels(["RAV", "RAV", "EMODB", "TESS", "TESS"], ["calm", "surprise", "boredom", "boredom", "fear"])
    assert mapped.tolist() == ["neutral", None, "sad", None, "fear"]


def test_apply_leaves_out_and_counts_per_corpus_and_keeps_unlabeled_rows() -> None:
    meta = pd.DataFrame({"corpus": ["A", "A", "A", "B", "U"], "label": ["fear", "calm", "fear", "sad", ""]})
    applied = label_set(["neutral", "sad"], {"*": {"calm": "neutral"}}).apply(meta)
    assert applied.keep.tolist() == [False, True, False, True, True]
    assert applied.meta["label"].tolist() == ["neutral", "sad", ""]
    assert applied.left_out == {"A": {"fear": 2}}
    assert applied.classes_present(["neutral", "sad"]) == {"A": ["neutral"], "B": ["sad"]}


@pytest.mark.parametrize(
    ("labels", "label_map", "message"),
    [
        ("paper5", None, "labels: unknown class set 'paper5'; valid: paper4, ekman, arousal, valence"),
        (["happy"], None, "labels: 1 class(es) ['happy']; an experiment needs at least 2"),
        (["happy", "sad", "happy"], None, "labels: class 'happy' is listed twice"),
        (
            ["happy", "sad"],
            {"RAV": {"calm": "neutral"}},
            "label_map: corpus 'RAV' maps 'calm' to 'neutral', which is not one of the labels; "
            "valid: happy, sad or null",
        ),
        (["happy", "no good"], None, "labels: class name 'no good' is not a word"),
    ],
)
def test_bad_class_sets_name_the_key_and_the_valid_values(labels, label_map, message) -> None:
    with pytest.raises(
        LabelSetError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")
    ):
        label_set(labels, label_map)


def test_label_map_options() -> None:
    assert parse_label_map_options(["IEM:excited=happy", "*:calm=null", "EMODB:boredom="]) == {
        "IEM": {"excited": "happy"},
        "*": {"calm": None},
        "EMODB": {"boredom": None},
    }
    with pytest.raises(LabelSetError, match="--label-map: 'calm' is not CORPUS:EMOTION=CLASS"):
        parse_label_map_options(["calm"])


def test_vote_matrix_without_vote_columns_is_none() -> None:
    assert DEFAULT.vote_matrix(pd.DataFrame({"corpus": ["A"], "label": ["sad"]})) is None
    votes = DEFAULT.vote_matrix(pd.DataFrame({"corpus": ["A"], "label": ["sad"], "votes_sad": [np.nan]}))
    assert votes is not None and np.isnan(votes).all()


def test_spec_keys_labels_and_label_map() -> None:
    demo = load_spec("demo")
    assert demo.labels is None and demo.label_map is None and demo.label_set() == DEFAULT
    assert "labels" not in demo.to_dict() and "label_map" not in demo.to_dict()  # unset: spec ids unchanged
    raw = {
        **demo.to_dict(),
        "labels": ["neutral", "happy", "sad", "angry", "fear", "disgust"],
        "label_map": {"IEM-demo": {"excited": "happy", "frustrated": None}},
    }
    spec = SweepSpec.from_dict(raw)
    assert spec.label_set().num_classes == 6 and SweepSpec.from_dict(spec.to_dict()) == spec
    assert SweepSpec.from_dict({**raw, "labels": "arousal", "label_map": None}).label_set().classes == ("low", "high")
    with pytest.raises(SpecError, match="label_map: unknown corpus 'RAV'; valid: '\\*' \\(every corpus\\), CRE-demo"):
        SweepSpec.from_dict({**raw, "label_map": {"RAV": {"calm": "neutral"}}})
    with pytest.raises(SpecError, match="label_map: corpus 'IEM-demo' maps 'excited' to 'joy', which is not one of"):
        SweepSpec.from_dict({**raw, "label_map": {"IEM-demo": {"excited": "joy"}}})

"""Roles for the two protocols: the paper's rules (Section 3.1), the generic rule, and the errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rdlr.corpora.splits import ROLES, SplitError, allocate, assign_roles
from rdlr.labels import CLASSES


def _rows(corpus: str, speaker: str, n: int, **extra: str) -> list[dict[str, str]]:
    return [
        {"utt_id": f"{corpus}_{speaker}_{i}", "corpus": corpus, "speaker": speaker, "label": CLASSES[i % 4], **extra}
        for i in range(n)
    ]


def paper_meta(cre_speakers: int = 91) -> pd.DataFrame:
    """CRE (actors), IEM (5 sessions × F/M), IMP (6 sessions × F/M), POD (partitions), LIB (unlabeled)."""
    rows: list[dict[str, str]] = []
    for actor in range(cre_speakers):
        rows += _rows("CRE", f"CRE_{1001 + actor}", 2)
    for session in range(1, 6):
        for gender in "FM":
            rows += _rows("IEM", f"IEM_Ses{session:02d}{gender}", 3, session=str(session))
    for session in range(1, 7):
        for gender in "FM":
            rows += _rows("IMP", f"IMP_{gender}{session:02d}", 3, session=str(session))
    for partition, speakers in (("train", 6), ("val", 2), ("test", 3)):
        for k in range(speakers):
            rows += _rows("POD", f"POD_{partition}{k}", 2, partition=partition)
    rows += _rows("POD", "POD_unknown_x1", 1, partition="train")
    rows += [{"utt_id": f"LIB_{i}", "corpus": "LIB", "speaker": f"LIB_{i % 3}", "label": ""} for i in range(6)]
    return pd.DataFrame(rows).fillna("")


def _speakers(meta: pd.DataFrame, roles: pd.Series, corpus: str, role: str) -> set[str]:
    return set(meta.loc[(meta["corpus"] == corpus) & (roles == role), "speaker"])


def _assert_speaker_disjoint(meta: pd.DataFrame, roles: pd.Series) -> None:
    split = roles.isin(["train", "val", "test"])
    spread = pd.DataFrame({"key": meta["corpus"] + "|" + meta["speaker"], "role": roles})[split]
    assert (spread.groupby("key")["role"].nunique() <= 1).all()


def test_out_of_corpus_follows_the_paper():
    meta = paper_meta()
    roles = assign_roles(meta, "out_of_corpus", held_out="IEM", seed=3)
    assert set(roles) <= set(ROLES) and roles.name == "role" and roles.index.equals(meta.index)
    assert (roles[meta["corpus"] == "IEM"] == "test").all()
    assert (roles[meta["corpus"] == "LIB"] == "unlabeled").all()
    assert len(_speakers(meta, roles, "CRE", "train")) == 58 and len(_speakers(meta, roles, "CRE", "val")) == 33
    imp = meta["corpus"] == "IMP"
    assert (roles[imp & (meta["session"] == "6")] == "val").all()
    assert (roles[imp & (meta["session"] != "6")] == "train").all()
    pod = meta["corpus"] == "POD"
    assert (
        roles[pod].tolist()
        == meta.loc[pod, "partition"].map({"train": "train", "val": "val", "test": "unused"}).tolist()
    )
    _assert_speaker_disjoint(meta, roles)


def test_out_of_corpus_iem_sessions_and_pod_held_out():
    meta = paper_meta()
    roles = assign_roles(meta, "out_of_corpus", held_out="POD", seed=0)
    iem = meta["corpus"] == "IEM"
    assert (roles[iem & (meta["session"] == "5")] == "val").all()
    assert (roles[iem & (meta["session"] != "5")] == "train").all()
    assert (roles[meta["corpus"] == "POD"] == "test").all()


def test_pod_test_option_tests_a_held_out_pod_on_its_test_partition_only():
    meta = paper_meta()
    pod = meta["corpus"] == "POD"
    default = assign_roles(meta, "out_of_corpus", held_out="POD", seed=0)
    partition = assign_roles(meta, "out_of_corpus", held_out="POD", seed=0, pod_test="test_partition")
    expected = np.where(meta.loc[pod, "partition"] == "test", "test", "unused")
    assert partition[pod].tolist() == expected.tolist() and "test" in expected and "unused" in expected
    within = assign_roles(meta, "within_corpus", held_out="POD", seed=0)
    assert (partition[pod] == "test").equals(within[pod] == "test")  # the within-corpus row's test set
    assert partition[~pod].equals(default[~pod])
    for held_out in ("CRE", "IEM"):  # other held-out corpora ignore the option
        options = [assign_roles(meta, "out_of_corpus", held_out, 0, pod_test=c) for c in ("all", "test_partition")]
        assert options[0].equals(options[1])
    with pytest.raises(SplitError, match="pod_test must be one of all, test_partition"):
        assign_roles(meta, "out_of_corpus", held_out="POD", pod_test="half")


def test_within_corpus_cre_uses_72_9_10_speakers():
    meta = paper_meta()
    roles = assign_roles(meta, "within_corpus", held_out="CRE", seed=1)
    counts = {role: len(_speakers(meta, roles, "CRE", role)) for role in ("train", "val", "test")}
    assert counts == {"train": 72, "val": 9, "test": 10}
    assert (roles[meta["corpus"].isin(["IEM", "IMP", "POD"])] == "unused").all()
    assert (roles[meta["corpus"] == "LIB"] == "unlabeled").all()
    _assert_speaker_disjoint(meta, roles)


@pytest.mark.parametrize(("corpus", "last"), [("IEM", "5"), ("IMP", "6")])
def test_within_corpus_sessions_one_speaker_val_other_test(corpus, last):
    meta = paper_meta()
    chosen = set()
    for seed in range(8):
        roles = assign_roles(meta, "within_corpus", held_out=corpus, seed=seed)
        rows = meta["corpus"] == corpus
        assert (roles[rows & (meta["session"] != last)] == "train").all()
        val, test = _speakers(meta, roles, corpus, "val"), _speakers(meta, roles, corpus, "test")
        assert len(val) == 1 and len(test) == 1
        assert val | test == set(meta.loc[rows & (meta["session"] == last), "speaker"])
        chosen.add(next(iter(val)))
    assert len(chosen) == 2, "the seed should decide which speaker of the last session validates"


def test_within_corpus_pod_uses_its_partitions():
    meta = paper_meta()
    roles = assign_roles(meta, "within_corpus", held_out="POD")
    pod = meta["corpus"] == "POD"
    assert roles[pod].tolist() == meta.loc[pod, "partition"].tolist()


def test_same_seed_same_split_other_seed_other_split():
    meta = paper_meta()
    first = assign_roles(meta, "out_of_corpus", held_out="IEM", seed=7)
    assert first.equals(assign_roles(meta, "out_of_corpus", held_out="IEM", seed=7))
    assert not first.equals(assign_roles(meta, "out_of_corpus", held_out="IEM", seed=8))


def test_adding_a_corpus_does_not_change_another_split():
    meta = paper_meta()
    extra = pd.DataFrame(_rows("MINE", "m1", 2) + _rows("MINE", "m2", 2) + _rows("MINE", "m3", 2))
    bigger = pd.concat([meta, extra], ignore_index=True).fillna("")
    small = assign_roles(meta, "out_of_corpus", held_out="IMP", seed=2)
    large = assign_roles(bigger, "out_of_corpus", held_out="IMP", seed=2)
    assert large.iloc[: len(meta)].equals(small)


def test_cre_counts_scale_with_fewer_speakers():
    meta = paper_meta(cre_speakers=10)
    roles = assign_roles(meta, "out_of_corpus", held_out="IEM")
    assert (len(_speakers(meta, roles, "CRE", "train")), len(_speakers(meta, roles, "CRE", "val"))) == (6, 4)


def test_index_is_kept_even_when_shuffled_and_not_a_range():
    meta = paper_meta().sample(frac=1.0, random_state=0)
    meta.index = [f"row{i}" for i in range(len(meta))]
    roles = assign_roles(meta, "within_corpus", held_out="CRE")
    assert roles.index.equals(meta.index)
    reference = assign_roles(meta.reset_index(drop=True), "within_corpus", held_out="CRE")
    assert roles.tolist() == reference.tolist()


@pytest.mark.parametrize("case", range(60))
def test_generic_split_never_puts_a_speaker_in_two_roles(case):
    rng = np.random.default_rng(case)
    rows = []
    corpora = [f"C{k}" for k in range(int(rng.integers(2, 5)))]
    for corpus in corpora:
        for speaker in range(int(rng.integers(3, 25))):
            rows += _rows(corpus, f"spk{speaker}", int(rng.integers(1, 6)))
    meta = pd.DataFrame(rows).sample(frac=1.0, random_state=case).reset_index(drop=True)
    protocol = ("out_of_corpus", "within_corpus")[case % 2]
    held_out = corpora[int(rng.integers(len(corpora)))]
    roles = assign_roles(meta, protocol, held_out=held_out, seed=int(rng.integers(100)))
    _assert_speaker_disjoint(meta, roles)
    expected_roles = ("train", "val", "test") if protocol == "within_corpus" else ("train", "val")
    split_corpora = [held_out] if protocol == "within_corpus" else [c for c in corpora if c != held_out]
    for corpus in split_corpora:
        found = set(roles[meta["corpus"] == corpus])
        assert found == set(expected_roles), (corpus, found)
    if protocol == "out_of_corpus":
        assert (roles[meta["corpus"] == held_out] == "test").all()
    else:
        assert (roles[meta["corpus"] != held_out] == "unused").all()


def test_generic_default_proportions_on_speakers():
    meta = pd.DataFrame(
        [row for k in range(20) for row in _rows("EMODB", f"s{k}", 2)]
        + [row for k in range(10) for row in _rows("X", f"x{k}", 1)]
    )
    within = assign_roles(meta, "within_corpus", held_out="EMODB")
    assert {r: len(_speakers(meta, within, "EMODB", r)) for r in ("train", "val", "test")} == {
        "train": 14,
        "val": 3,
        "test": 3,
    }
    out = assign_roles(meta, "out_of_corpus", held_out="X")
    assert {r: len(_speakers(meta, out, "EMODB", r)) for r in ("train", "val")} == {"train": 16, "val": 4}


def test_proportions_override_globally_and_per_corpus():
    meta = paper_meta()
    emo = pd.DataFrame([row for k in range(10) for row in _rows("EMODB", f"s{k}", 1)])
    meta = pd.concat([meta, emo], ignore_index=True).fillna("")
    roles = assign_roles(meta, "out_of_corpus", held_out="IEM", proportions={"train": 0.5, "val": 0.5})
    assert len(_speakers(meta, roles, "EMODB", "val")) == 5
    assert len(_speakers(meta, roles, "CRE", "val")) == 33, "paper corpora keep the paper's rule"
    roles = assign_roles(
        meta,
        "out_of_corpus",
        held_out="IEM",
        proportions={"CRE": {"train": 0.9, "val": 0.1}, "EMODB": {"train": 0.7, "val": 0.3}},
    )
    assert len(_speakers(meta, roles, "CRE", "val")) == 9 and len(_speakers(meta, roles, "EMODB", "val")) == 3


def test_no_held_out_corpus_splits_every_labeled_corpus_into_train_and_val():
    meta = paper_meta()
    emo = pd.DataFrame([row for k in range(10) for row in _rows("EMODB", f"s{k}", 2)])
    meta = pd.concat([meta, emo], ignore_index=True).fillna("")
    roles = assign_roles(meta, "out_of_corpus", held_out=None, seed=1)
    pod_test = (meta["corpus"] == "POD") & (meta["partition"] == "test")
    assert set(roles[(meta["label"] != "") & ~pod_test]) == {"train", "val"}
    assert (roles[pod_test] == "unused").all() and (roles[meta["corpus"] == "LIB"] == "unlabeled").all()
    assert len(_speakers(meta, roles, "CRE", "val")) == 33, "the paper's rule for its corpora"
    assert {r: len(_speakers(meta, roles, "EMODB", r)) for r in ("train", "val")} == {"train": 8, "val": 2}
    held_out = assign_roles(meta, "out_of_corpus", held_out="EMODB", seed=1)
    other = meta["corpus"] != "EMODB"
    assert roles[other].equals(held_out[other]), "holding a corpus out does not change the others' splits"
    _assert_speaker_disjoint(meta, roles)
    with pytest.raises(SplitError, match="within_corpus needs a held_out corpus"):
        assign_roles(meta, "within_corpus", held_out=None)
    with pytest.raises(SplitError, match="no labeled utterances"):
        assign_roles(meta[meta["corpus"] == "LIB"], "out_of_corpus", held_out=None)


def test_rules_override_switches_a_paper_corpus_to_generic():
    meta = paper_meta()
    roles = assign_roles(meta, "out_of_corpus", held_out="CRE", rules={"IEM": "generic"})
    assert len(_speakers(meta, roles, "IEM", "val")) == 2 and len(_speakers(meta, roles, "IEM", "train")) == 8
    _assert_speaker_disjoint(meta, roles)


def test_allocate_gives_every_role_a_share():
    assert allocate(91, {"train": 58, "val": 33}) == {"train": 58, "val": 33}
    assert allocate(3, {"train": 0.7, "val": 0.15, "test": 0.15}) == {"train": 1, "val": 1, "test": 1}
    assert allocate(10, {"train": 0.7, "val": 0.15, "test": 0.15}) == {"train": 7, "val": 2, "test": 1}
    with pytest.raises(SplitError, match="need at least 3"):
        allocate(2, {"train": 0.7, "val": 0.15, "test": 0.15})


@pytest.mark.parametrize(
    ("meta_rows", "protocol", "held_out", "kwargs", "message"),
    [
        (_rows("A", "a1", 3) + _rows("B", "b1", 3), "within_corpus", "A", {}, "A: 1 speaker\\(s\\) cannot fill"),
        (_rows("A", "a1", 3) + _rows("B", "b1", 3), "out_of_corpus", "A", {}, "B: 1 speaker\\(s\\) cannot fill"),
        (_rows("A", "a1", 3), "out_of_corpus", "Z", {}, "unknown held_out corpus 'Z'; corpora present: A"),
        (_rows("A", "a1", 3), "leave_one_out", "A", {}, "unknown protocol 'leave_one_out'"),
        (_rows("A", "a1", 3), "out_of_corpus", "A", {}, "needs a labeled training corpus besides 'A'"),
        (
            [{"utt_id": "l", "corpus": "LIB", "speaker": "l", "label": ""}]
            + _rows("A", "a1", 3)
            + _rows("A", "a2", 3)
            + _rows("A", "a3", 3),
            "within_corpus",
            "LIB",
            {},
            "'LIB' has no labeled utterances",
        ),
        (
            _rows("A", "a1", 3) + _rows("B", "b1", 3),
            "out_of_corpus",
            "A",
            {"proportions": {"train": 1, "test": 1}},
            "unknown role\\(s\\) \\['test'\\]",
        ),
        (
            _rows("A", "a1", 3) + _rows("B", "b1", 3),
            "out_of_corpus",
            "A",
            {"proportions": {"train": 1, "val": "x"}},
            "proportions must map roles to shares",
        ),
        (
            _rows("A", "a1", 3) + _rows("B", "b1", 3),
            "out_of_corpus",
            "A",
            {"rules": {"B": "paper"}},
            "'paper' exists for",
        ),
        (
            _rows("A", "a1", 3) + _rows("IEM", "i1", 3, session=""),
            "out_of_corpus",
            "A",
            {},
            "IEM: session '' is not a session number",
        ),
        (
            _rows("A", "a1", 3) + _rows("POD", "p1", 3, partition=""),
            "out_of_corpus",
            "A",
            {},
            "POD: the paper's split uses the corpus partitions",
        ),
        (
            _rows("A", "a1", 3) + _rows("IMP", "IMP_F06", 3, session="6"),
            "within_corpus",
            "IMP",
            {},
            "only session 6 present",
        ),
    ],
)
def test_clear_errors(meta_rows, protocol, held_out, kwargs, message):
    with pytest.raises(SplitError, match=message):
        assign_roles(pd.DataFrame(meta_rows).fillna(""), protocol, held_out=held_out, **kwargs)


def test_session_column_inconsistent_with_speakers_is_caught():
    rows = _rows("IEM", "IEM_Ses01F", 2, session="1") + _rows("IEM", "IEM_Ses01F", 2, session="5") + _rows("X", "x", 2)
    with pytest.raises(SplitError, match="speaker 'IEM_Ses01F' appears in several roles"):
        assign_roles(pd.DataFrame(rows), "out_of_corpus", held_out="X")


def test_pod_partitions_sharing_a_speaker_only_warn():
    rows = _rows("POD", "POD_7", 2, partition="train") + _rows("POD", "POD_7", 2, partition="val") + _rows("X", "x", 2)
    with pytest.warns(UserWarning, match="speaker 'POD_7' appears in several roles through the corpus's own"):
        roles = assign_roles(pd.DataFrame(rows), "out_of_corpus", held_out="X")
    assert roles.tolist() == ["train", "train", "val", "val", "test", "test"]

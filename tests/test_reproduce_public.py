"""The free-corpora specs: ``rdlr reproduce sweeps/public.yaml --data-root DIR`` end to end (prepare, extract,
sweep, report) on tiny generated trees of all its corpora in their official layouts, and the multilingual spec's
prepare step on every one of its corpora.

The run keeps public.yaml's data, features, held-out and unlabeled corpora as shipped and shrinks only the budget:
one seed, one configuration, one epoch and the out-of-corpus CE row, so every corpus is the test set once and a
training corpus three times (4 trials). Every split of the full spec (both protocols, every held-out corpus) is
checked on the same tiny trees without Ray.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from rdlr.corpora import assign_roles
from rdlr.spec.core import SweepSpec, load_spec
from rdlr.spec.files import SWEEPS_DIR
from rdlr.sweep.inputs import prepare_manifest as prepare
from tests.helpers.public_trees import (
    emovo_files,
    esd_files,
    ravdess_files,
    savee_files,
    shemo_files,
    tone,
    urdu_files,
    write_tree,
)
from tests.helpers.reproduce_cli import reproduce

SECONDS = 0.3
TINY = {
    "seeds": [0],
    "protocols": {"out_of_corpus": ["ce"]},
    "search": {"configs": 1, "space": {"batch_size": [8]}},
    "training": {"max_epochs": 1},
    "resources": {"cpus_per_trial": 1, "gpus_per_trial": 0, "max_failures": 0, "parallel_jobs": 0},
}
CREMAD_EMOTIONS = ("NEU", "HAP", "SAD", "ANG", "DIS")


def audio(name: str) -> Any:
    return tone(name, SECONDS)


def first_per(names: list[str], key: Any) -> list[str]:
    """The first name of every distinct ``key(name)`` (``None`` keys left out)."""
    chosen: dict[Any, str] = {}
    for name in names:
        group = key(name)
        if group is not None:
            chosen.setdefault(group, name)
    return list(chosen.values())


def write_public_trees(root: Path) -> Path:
    """Tiny trees of public.yaml's corpora under the folder names it expects: 3–4 speakers per labeled corpus, one
    utterance per class and speaker, one of an excluded emotion; LibriSpeech with two speakers."""
    write_tree(
        root / "CREMA-D",
        [f"AudioWAV/{actor}_IEO_{emotion}_XX.wav" for actor in range(1001, 1005) for emotion in CREMAD_EMOTIONS],
        audio,
    )
    write_tree(
        root / "RAVDESS",
        [
            n
            for n in ravdess_files(range(1, 4))  # emotions 01-05, first take of each
            if Path(n).stem.split("-")[3:6] == ["01"] * 3 and Path(n).stem[6:8] <= "05"
        ],
        audio,
    )
    write_tree(root / "ESD" / "Emotion Speech Dataset", esd_files(["0011", "0012", "0016"], per_emotion=1), audio)
    write_tree(root / "SAVEE", [n for n in savee_files() if re.search(r"/(a|h|n|sa|su)01\.wav$", n)], audio)
    write_tree(
        root / "LibriSpeech",
        [
            f"train-clean-100/{spk}/{chapter}/{spk}-{chapter}-{i:04d}.flac"
            for spk, chapter in ((19, 198), (26, 495))
            for i in range(3)
        ],
        audio,
    )
    return root


def write_multilingual_trees(root: Path, real_emodb: Path | None = None) -> Path:
    """public.yaml's tiny trees plus EMOVO, URDU, EmoDB (generated, or a link to ``real_emodb``) and ShEMO, three
    speakers each."""
    write_public_trees(root)
    write_tree(root / "EMOVO", [n for n in emovo_files(["f1", "m1", "m2"]) if n.endswith("-b1.wav")], audio)
    urdu_speakers, shemo_speakers = ("SM1", "SM2", "SF1"), ("F01", "M01", "M02")
    write_tree(
        root / "URDU",
        first_per(
            urdu_files(),
            lambda n: (
                (Path(n).stem.split("_")[0], Path(n).parent.name)
                if Path(n).stem.split("_")[0] in urdu_speakers
                else None
            ),
        ),
        audio,
    )
    write_tree(
        root / "ShEMO",
        first_per(shemo_files(), lambda n: Path(n).stem[:4] if Path(n).stem[:3] in shemo_speakers else None),
        audio,
    )
    if real_emodb is not None:
        (root / "EmoDB").symlink_to(real_emodb, target_is_directory=True)
    else:
        write_tree(
            root / "EmoDB", [f"wav/{spk}a01{emotion}a.wav" for spk in ("03", "08", "11") for emotion in "NFTWL"], audio
        )
    return root


def reduced_public_spec() -> dict[str, Any]:
    """sweeps/public.yaml with the budget of :data:`TINY`; its data and corpora untouched."""
    raw = yaml.safe_load((SWEEPS_DIR / "public.yaml").read_text())
    return {**raw, **TINY}


@pytest.fixture(scope="module")
def public_run(ray_session: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("public")
    data_root = write_public_trees(root / "data")
    spec_path = root / "public.yaml"
    spec_path.write_text(yaml.safe_dump(reduced_public_spec(), sort_keys=False))
    status = reproduce(
        str(spec_path), "--data-root", str(data_root), "--storage", str(root / "runs"), "--out", str(root / "reports")
    )
    return {"root": root, "status": status}


def test_the_reduced_spec_reads_the_same_corpora_as_public_yaml() -> None:
    shipped, reduced = load_spec("public"), SweepSpec.from_dict(reduced_public_spec())
    assert reduced.data == shipped.data and reduced.held_out == shipped.held_out
    assert (reduced.features, reduced.unlabeled) == (shipped.features, shipped.unlabeled)
    assert reduced.id == "public" and reduced.num_trials() == len(reduced.jobs()) == 4


def test_reproduce_public_runs_every_stage_through_the_report(public_run: dict[str, Any]) -> None:
    root = public_run["root"]
    assert public_run["status"] == 0
    stored = {path.parent.name for path in (root / "runs" / "features" / "is10").rglob("part-*.parquet")}
    assert stored == {"CRE", "RAVDESS", "ESD-en", "SAVEE", "LIB"}
    results = pd.read_csv(root / "runs" / "public" / "results.csv")
    assert sorted(zip(results["protocol"], results["method"], results["held_out"])) == [
        ("out_of_corpus", "ce", corpus) for corpus in ("CRE", "ESD-en", "RAVDESS", "SAVEE")
    ]
    report = root / "reports" / "public"
    assert (report / "README.md").is_file() and (report / "paper-selection" / "README.md").is_file()
    text = "\n".join(path.read_text() for path in report.glob("*.md"))
    assert all(corpus in text for corpus in ("CRE", "RAVDESS", "ESD-en", "SAVEE"))


def test_the_multilingual_spec_prepares_every_corpus(tmp_path: Path) -> None:
    spec = load_spec("public-multilingual")
    assert spec.protocols == load_spec("table2").protocols and spec.unlabeled == "LIB"
    with pytest.warns(UserWarning):  # tiny trees: every count check reports its differences
        manifest = prepare(spec, write_multilingual_trees(tmp_path))
    per_corpus = manifest[manifest["label"] != ""].groupby("corpus")["speaker"].nunique().to_dict()
    assert per_corpus == {
        "CRE": 4,
        "RAVDESS": 3,
        "ESD-en": 3,
        "SAVEE": 4,
        "EMOVO": 3,
        "URDU": 3,
        "EMODB": 3,
        "SHEMO": 3,
    }
    labeled = manifest[manifest["label"] != ""]  # manifests keep each corpus' own emotions (issue 25) ...
    assert (labeled.groupby("corpus")["label"].nunique() >= 4).all()
    paper4 = spec.label_set().apply(labeled).meta  # ... and the spec's class set (the paper's four) maps them
    assert (paper4.groupby("corpus")["label"].nunique() == 4).all()
    assert (manifest.loc[manifest["label"] == "", "corpus"] == "LIB").all()
    for held_out in spec.held_out:  # every split the full spec makes exists on these trees
        for protocol in ("within_corpus", "out_of_corpus"):
            roles = assign_roles(manifest, protocol, held_out, seed=spec.data.split_seed)
            assert {"train", "val", "test"} <= set(roles), (protocol, held_out)


def test_the_multilingual_spec_reads_the_real_emodb(emodb_root: Path, tmp_path: Path) -> None:
    spec = load_spec("public-multilingual")
    with pytest.warns(UserWarning):
        manifest = prepare(spec, write_multilingual_trees(tmp_path, real_emodb=emodb_root))
    assert (manifest["corpus"] == "EMODB").sum() == 535 and manifest["utt_id"].is_unique  # all seven emotions
    paper4 = spec.label_set().apply(manifest[manifest["label"] != ""]).meta
    assert (paper4["corpus"] == "EMODB").sum() == 339  # neutral, happy, sad, angry

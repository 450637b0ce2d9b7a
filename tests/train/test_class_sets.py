"""Training with a class set of K != 4: every method of the registry trains with K = 6 (outputs, targets, proxies and
metrics all K-class); a training corpus lacking a class trains without it; a held-out corpus is scored over the
classes it has."""

from __future__ import annotations

import numpy as np
import pytest

from rdlr.labels import label_set
from rdlr.methods import get_method, list_methods
from rdlr.train import TrainConfig, TrialData, run_trial
from rdlr.train.data import labeled_table
from rdlr.train.objective import Objective
from tests.helpers.synthetic import out_of_corpus_roles, synthetic_table

SIX = ("neutral", "happy", "sad", "angry", "fear", "disgust")
SMALL = {"batch_size": 32, "unlabeled_batch_size": 8}


@pytest.fixture(scope="module")
def six_class_data() -> TrialData:
    x, meta = synthetic_table(rows_per_corpus=72, unlabeled=32, classes=SIX)
    return TrialData.from_table(x, meta, out_of_corpus_roles(meta), label_set(list(SIX)))


@pytest.mark.slow
@pytest.mark.parametrize("method", list_methods())
def test_every_method_trains_with_six_classes(six_class_data: TrialData, method: str) -> None:
    result = run_trial(six_class_data, method, SMALL, seed=0, config=TrainConfig(max_epochs=2))
    final = result.final
    assert result.state_dict["classifier"]["output.weight"].shape[0] == 6
    assert [key.split("/", 1)[1] for key in final if key.startswith("test_recall/")] == list(SIX)
    assert np.asarray(final["confusion"]).shape == (6, 6)
    assert 0.0 <= final["test_ua"] <= 1.0


def test_objective_has_k_outputs_and_k_proxies() -> None:
    method = get_method("proxy_anchor")
    objective = Objective(method, method.resolve_hparams(), 16, ae_on_unlabeled=False, num_classes=6)
    assert objective.classifier.output.out_features == 6
    assert objective.proxy_anchor is not None and objective.proxy_anchor.proxies.shape == (6, 512)


@pytest.mark.slow
def test_seven_classes_learn_well_above_chance() -> None:
    seven = (*SIX, "boredom")
    x, meta = synthetic_table(rows_per_corpus=280, classes=seven)
    data = TrialData.from_table(x, meta, out_of_corpus_roles(meta), label_set(list(seven)))
    final = run_trial(data, "ce", {"batch_size": 64}, seed=0, config=TrainConfig(max_epochs=30)).final
    assert final["test_ua"] > 0.35  # chance is 1/7 (0.14)


@pytest.mark.slow
def test_a_corpus_lacking_a_class_trains_without_it_and_the_held_out_one_is_scored_over_its_classes() -> None:
    x, meta = synthetic_table(rows_per_corpus=120, classes=SIX)
    meta.loc[(meta["corpus"] == "A") & (meta["label"] == "fear"), "label"] = "boredom"  # A has no fear
    meta.loc[(meta["corpus"] == "D") & (meta["label"] == "disgust"), "label"] = "contempt"  # held-out D: no disgust
    labels = label_set(list(SIX))
    x, kept, left_out = labeled_table(x, meta, labels)
    assert left_out == {
        "A": {"boredom": int((meta["label"] == "boredom").sum())},
        "D": {"contempt": int((meta["label"] == "contempt").sum())},
    }
    data = TrialData.from_table(x, kept, out_of_corpus_roles(kept), labels)
    final = run_trial(data, "ce", {"batch_size": 64}, seed=0, config=TrainConfig(max_epochs=3)).final
    assert np.isnan(final["test_recall/disgust"])  # absent from the held-out corpus: no recall, not in its UA
    present = [final[f"test_recall/{name}"] for name in SIX if name != "disgust"]
    assert final["test_ua"] == pytest.approx(float(np.mean(present)))

"""Sweep specs: the packaged specs cover the paper's tables, and bad specs fail before Ray starts."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from rdlr.methods import DEFAULT_HPARAMS, SEARCH_SPACE, TABLE2_METHODS, TABLE3_METHODS, get_method
from rdlr.spec.core import SpecError, SweepSpec, load_spec
from rdlr.spec.files import packaged_specs, resolve_spec_path
from rdlr.spec.jobs import Job
from rdlr.spec.sections import DEMO_LABELED
from tests.helpers.specs import demo_raw

MINIMAL = demo_raw("mini", unlabeled="LIB-demo", protocols={"out_of_corpus": ["ce", "rdlr_cww_dagger"]}, seeds=[0, 1])


def build(**changes: object) -> SweepSpec:
    raw = copy.deepcopy(MINIMAL)
    for dotted, value in changes.items():
        node = raw
        *parents, last = dotted.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return SweepSpec.from_dict(raw)


def test_packaged_specs_are_found_and_valid() -> None:
    assert {"table2", "table3", "demo"} <= set(packaged_specs())
    for name in ("table2", "table3", "demo"):
        assert load_spec(name).id == name
    assert resolve_spec_path("table2") == resolve_spec_path(Path(__file__).parents[2] / "sweeps" / "table2.yaml")


def test_table2_has_every_row_corpus_and_seed() -> None:
    spec = load_spec("table2")
    assert spec.features == ("is10",)
    assert spec.held_out == ("CRE", "IEM", "IMP", "POD") and spec.unlabeled == "LIB"
    assert spec.protocols.out_of_corpus == TABLE2_METHODS
    assert spec.protocols.within_corpus == ("ce",)
    assert spec.seeds == (0, 1, 2, 3, 4)
    assert {name: source.loader for name, source in spec.data.corpora.items()} == {
        "CRE": "cremad",
        "IEM": "iemocap",
        "IMP": "msp_improv",
        "POD": "msp_podcast",
        "LIB": "librispeech",
    }
    jobs = spec.jobs()
    assert len(jobs) == (len(TABLE2_METHODS) + 1) * 4
    assert all(job.space == {k: list(SEARCH_SPACE[k]) for k in get_method(job.method).hparam_names()} for job in jobs)


def test_table3_has_both_feature_sets_and_its_rows() -> None:
    spec = load_spec("table3")
    assert spec.features == ("is10+w2v", "is10+w2v+bert")
    assert spec.protocols.out_of_corpus == TABLE3_METHODS and spec.protocols.within_corpus == ("ce",)
    assert {"w2v", "bert"} <= set(spec.models)
    assert {job.features for job in spec.jobs()} == set(spec.features)


def test_demo_shows_each_component_with_three_seeds_and_equal_budgets() -> None:
    spec = load_spec("demo")
    assert spec.data.source == "demo" and spec.held_out == DEMO_LABELED
    assert spec.protocols.within_corpus == ("ce",)
    assert spec.protocols.out_of_corpus == ("ce", "rd", "lr", "rdlr_cww_dagger")  # CE, each component, proposed
    assert len(spec.seeds) >= 3 and spec.training["max_epochs"] <= 15
    jobs = spec.jobs()
    assert {job.configs for job in jobs} == {1}  # the same budget for every row
    assert spec.search.space["batch_size"] == (64,)
    for name in ("gamma", "lambda_w", "lambda_rd", "lambda_ae"):  # the package defaults, one value each
        assert spec.search.space[name] == (DEFAULT_HPARAMS[name],)
    assert spec.num_trials() == 5 * 4 * 3  # rows x held-out corpora x seeds: about 7 minutes on 2 cores


def test_budget_is_capped_by_the_grid_and_auto_picks_the_sampler() -> None:
    spec = build(search={"configs": 5, "space": {"batch_size": [64, 128]}})
    by_method = {job.method: job for job in spec.jobs()}
    assert by_method["ce"].configs == 2 and by_method["ce"].sampler == "grid"  # CE searches only M
    assert by_method["rdlr_cww_dagger"].configs == 5 and by_method["rdlr_cww_dagger"].sampler == "tpe"
    assert by_method["rdlr_cww_dagger"].grid_size == 2 * 7 * 4 * 3 * 4
    assert spec.num_trials() == (2 + 5) * 2


def test_configs_per_method_overrides_the_budget() -> None:
    spec = build(search={"configs": 3, "configs_per_method": {"rdlr_cww_dagger": 7}})
    assert {job.method: job.configs for job in spec.jobs()} == {"ce": 3, "rdlr_cww_dagger": 7}


def test_space_per_protocol_overrides_the_space_for_that_protocols_jobs() -> None:
    spec = build(
        protocols__within_corpus=["ce"],
        search={
            "configs": 3,
            "space": {"batch_size": [64]},
            "space_per_protocol": {"within_corpus": {"batch_size": [8, 16]}},
        },
    )
    sizes = {(job.protocol, job.method): job.space["batch_size"] for job in spec.jobs()}
    assert sizes == {
        ("within_corpus", "ce"): [8, 16],
        ("out_of_corpus", "ce"): [64],
        ("out_of_corpus", "rdlr_cww_dagger"): [64],
    }
    assert SweepSpec.from_dict(spec.to_dict()) == spec
    assert "space_per_protocol" not in build().to_dict()["search"]  # unset: saved specs of earlier sweeps match


def test_round_trip_through_yaml(tmp_path: Path) -> None:
    spec = load_spec("table3")
    path = tmp_path / "copy.yaml"
    path.write_text(yaml.safe_dump(spec.to_dict()))
    assert load_spec(path) == spec


def test_job_names_are_unique() -> None:
    jobs = load_spec("table2").jobs()
    assert len({job.name for job in jobs}) == len(jobs)
    assert isinstance(jobs[0], Job) and "/" not in jobs[0].name


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"colour": "red"}, r"unknown key 'colour'; valid keys: id, data, features"),
        ({"search__trials": 5}, r"unknown key 'search.trials'; valid keys of search: sampler, sampler_seed, configs"),
        (
            {"protocols__out_of_corpus": ["ce", "rdrl"]},
            r"protocols.out_of_corpus\[1\]: unknown method 'rdrl'; valid ids: ce, soft",
        ),
        ({"held_out": ["CRE"]}, r"held_out\[0\]: unknown corpus 'CRE'; valid: CRE-demo, IEM-demo"),
        ({"features": ["is11"]}, r"features\[0\]: unknown feature set 'is11' in 'is11'; valid: is10, w2v, bert"),
        ({"features": ["w2v+is10"], "models": {"w2v": "m.pt"}}, r"write 'w2v\+is10' as 'is10\+w2v'"),
        ({"features": ["is10+w2v"]}, r"models.w2v: feature set 'w2v' needs a local model path"),
        ({"models": {"hubert": "x"}}, r"models: unknown value 'hubert'; valid: w2v, bert, whisper"),
        ({"seeds": [0, "one"]}, r"seeds\[1\] must be an integer, got 'one'"),
        ({"seeds": [1, 1]}, r"seeds: 1 is listed twice"),
        ({"seeds": []}, r"seeds: give at least one seed"),
        ({"unlabeled": None}, r"method 'rdlr_cww_dagger' uses AE \(12\) / PEL \(13\).*set `unlabeled`"),
        ({"data__source": "cloud"}, r"data.source: unknown value 'cloud'; valid: demo, real, manifests"),
        ({"data__source": "real"}, r"data.corpora: a 'real' data source needs corpora"),
        ({"search__sampler": "cmaes"}, r"search.sampler: unknown value 'cmaes'; valid: auto, tpe, random, grid"),
        ({"search__configs": 0}, r"search.configs: must be >= 1"),
        ({"search__space": {"momentum": [0.9]}}, r"search.space: unknown value 'momentum'; valid: batch_size, gamma"),
        ({"search__space": {"gamma": [1.5]}}, r"search.space.gamma: LR's γ \(10\) must be in \[0, 1\]"),
        ({"search__configs_per_method": {"focal": 2}}, r"method 'focal' is not in protocols"),
        (
            {"search__space_per_protocol": {"cross_corpus": {"batch_size": [8]}}},
            r"search.space_per_protocol: unknown value 'cross_corpus'; valid: within_corpus, out_of_corpus",
        ),
        (
            {"search__space_per_protocol": {"within_corpus": {"batch_size": [0]}}},
            r"search.space_per_protocol.within_corpus.batch_size: must be positive integers",
        ),
        ({"training": {"epochs": 3}}, r"training: unknown value 'epochs'; valid: max_epochs, lr, patience"),
        ({"training": {"max_epochs": "ten"}}, r"training.max_epochs: expected int \(default 100\), got 'ten'"),
        ({"training": {"device": "cuda"}}, r"training.device: set by the trial's resources"),
        ({"training": {"cww_split": "test"}}, r"training: cww_split must be 'val' or 'train'"),
        ({"resources__gpus_per_trial": 1.5}, r"resources.gpus_per_trial: a fraction in \[0, 1\] or a whole number"),
        ({"resources__cpus_per_trial": 0}, r"resources.cpus_per_trial: must be > 0"),
        ({"id": "a b"}, r"id: 'a b' must start with a letter or digit"),
        ({"protocols": {}}, r"protocols: list methods under at least one of within_corpus, out_of_corpus"),
        ({"features": "is10"}, r"features must be a list of a string, got 'is10'"),
    ],
)
def test_bad_specs_name_the_key_and_the_valid_choices(changes: dict[str, object], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        build(**changes)


def test_missing_required_key() -> None:
    raw = {k: v for k, v in MINIMAL.items() if k != "held_out"}
    with pytest.raises(SpecError, match=r"missing required key 'held_out'"):
        SweepSpec.from_dict(raw)


def test_real_data_checks_loader_and_corpora() -> None:
    corpora = {"CRE": {"loader": "cremad", "root": "CREMA-D"}, "LIB": {"loader": "librispeech", "root": "LS"}}
    with pytest.raises(SpecError, match=r"data.corpora.CRE.loader: unknown value 'crema'; valid: cremad, iemocap"):
        build(
            data={"source": "real", "corpora": {**corpora, "CRE": {"loader": "crema", "root": "x"}}},
            held_out=["CRE"],
            unlabeled="LIB",
        )
    with pytest.raises(
        SpecError, match=r"unknown key 'data.corpora.CRE.path'; valid keys of data.corpora.CRE: loader, root"
    ):
        build(data={"source": "real", "corpora": {"CRE": {"loader": "cremad", "path": "x"}}}, held_out=["CRE"])
    with pytest.raises(SpecError, match=r"held_out: 'LIB' is the unlabeled corpus"):
        build(data={"source": "real", "corpora": corpora}, held_out=["LIB"], unlabeled="LIB")
    spec = build(
        data={"source": "real", "corpora": corpora},
        held_out=["CRE"],
        unlabeled="LIB",
        protocols={"within_corpus": ["ce"]},
    )
    assert spec.labeled_corpora() == ("CRE",) and spec.corpora() == ("CRE", "LIB")


def test_spec_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, "seeds": "all"}))
    with pytest.raises(SpecError, match=rf"{path}: seeds must be a list of an integer"):
        load_spec(path)
    with pytest.raises(
        SpecError,
        match=r"sweep spec 'tabel2' not found; .*packaged specs: demo, public, "
        r"public-multilingual, table2, table2-paper, table3, table3-paper",
    ):
        load_spec("tabel2")


def test_extractors_added_to_the_registry_are_valid_feature_sets() -> None:
    from rdlr.features.is10 import IS10Config, IS10Extractor
    from rdlr.features.registry import register_extractor, unregister_extractor

    with pytest.raises(SpecError, match=r"unknown feature set 'myset' in 'is10\+myset'; valid: is10, w2v, bert"):
        build(features=["is10+myset"])
    register_extractor("myset", lambda models: IS10Extractor(IS10Config()))
    try:
        assert build(features=["is10+myset"]).features == ("is10+myset",)
        with pytest.raises(SpecError, match=r"write 'myset\+is10' as 'is10\+myset'"):
            build(features=["myset+is10"])
    finally:
        unregister_extractor("myset")
    with pytest.raises(SpecError, match=r"unknown feature set 'myset'"):
        build(features=["myset"])


def test_hf_encoder_layer_is_set_in_the_spec() -> None:
    spec = build(features=["is10+hf:/models/hubert-base"], hf={"layer": 6})
    assert spec.hf is not None and spec.hf.layer == 6
    assert spec.to_dict()["hf"] == {"layer": 6}
    assert SweepSpec.from_dict(spec.to_dict()) == spec
    assert build(features=["hf:/models/hubert-base"], hf={}).hf.layer == -1  # the extractor's own default
    assert "hf" not in load_spec("demo").to_dict()  # unset: the saved spec.yaml of other specs is unchanged
    with pytest.raises(SpecError, match=r"hf.layer must be an integer, got 'last'"):
        build(features=["hf:/models/hubert-base"], hf={"layer": "last"})
    with pytest.raises(SpecError, match=r"unknown key 'hf.layers'; valid keys of hf: layer"):
        build(features=["hf:/models/hubert-base"], hf={"layers": 6})
    with pytest.raises(SpecError, match=r"hf: only used with hf:<model dir> feature sets; features: is10"):
        build(hf={"layer": 6})


def test_packaged_specs_come_from_the_checkout_else_the_installed_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rdlr.spec import files as spec_module

    assert spec_module.packaged_spec_dir() == spec_module.SWEEPS_DIR  # a source checkout: its sweeps/ folder
    installed = tmp_path / "site-packages" / "rdlr" / "sweeps"
    installed.mkdir(parents=True)
    (installed / "demo.yaml").write_text((spec_module.SWEEPS_DIR / "demo.yaml").read_text())
    asked: list[str] = []

    def files(package: str) -> Path:
        asked.append(package)
        return installed

    monkeypatch.chdir(tmp_path)  # no sweeps/ folder under the working directory either
    monkeypatch.setattr(spec_module, "SWEEPS_DIR", tmp_path / "no-checkout" / "sweeps")
    monkeypatch.setattr(spec_module.importlib_resources, "files", files)
    assert spec_module.packaged_spec_dir() == installed and asked == ["rdlr.sweeps"]
    assert packaged_specs() == ["demo"]
    assert resolve_spec_path("demo") == resolve_spec_path("sweeps/demo.yaml") == installed / "demo.yaml"
    assert load_spec("demo").id == "demo"

    def not_installed(package: str) -> Path:
        raise ModuleNotFoundError(f"No module named {package!r}")

    monkeypatch.setattr(spec_module.importlib_resources, "files", not_installed)
    assert spec_module.packaged_spec_dir() is None and packaged_specs() == []
    missing = r"sweep spec 'demo' not found; .*\(none found in .*no-checkout.* or rdlr.sweeps\)"
    with pytest.raises(SpecError, match=missing):
        load_spec("demo")

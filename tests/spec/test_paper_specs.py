"""The packaged specs of the paper's tables: the full-grid specs (table2-paper, table3-paper) run every method's
whole grid with 5 seeds under test-set selection as headline, and the sampled specs' headers state the counts
their specs expand to."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from rdlr.commands import reproduce
from rdlr.spec.core import SpecError, SweepSpec, load_spec
from rdlr.spec.files import packaged_specs, resolve_spec_path


@pytest.mark.parametrize("spec_id", ["table2-paper", "table3-paper"])
def test_full_grid_specs_search_every_configuration_with_five_seeds(spec_id: str) -> None:
    spec, sampled = load_spec(spec_id), load_spec(spec_id.removesuffix("-paper"))
    assert spec.seeds == (0, 1, 2, 3, 4) and spec.headline_selection == "paper"
    assert sampled.headline_selection == "validation"
    jobs = spec.jobs()
    assert [job.name for job in jobs] == [job.name for job in sampled.jobs()]
    for job in jobs:
        assert job.sampler == "grid"
        assert job.configs == math.prod(len(values) for values in job.space.values()), job.name
    assert sum(job.configs for job in jobs) > sum(job.configs for job in sampled.jobs())


def test_headline_is_validation_or_paper() -> None:
    raw = load_spec("demo").to_dict()
    assert "headline" not in raw  # unset: left out, so the saved specs of earlier sweeps read as before
    with pytest.raises(SpecError, match=r"headline: unknown value 'test'; valid: validation, paper"):
        SweepSpec.from_dict({**raw, "headline": "test"})


MODELS = r"([\d,]+) models(?! sharing)"  # "100,680 models", not "4 models sharing a GPU"
STATED_COUNTS = {  # a count a header states -> what it must equal, from the spec's expansion
    r"([\d,]+) jobs": lambda spec, jobs, configs: len(jobs),
    r"([\d,]+) configurations per held-out corpus": lambda spec, jobs, configs: configs // len(spec.held_out),
    r"([\d,]+) configurations x": lambda spec, jobs, configs: configs,
    r"([\d,]+) Tune trials": lambda spec, jobs, configs: configs,  # a trial trains all seeds of a configuration
    MODELS: lambda spec, jobs, configs: configs * len(spec.seeds),
}


@pytest.mark.parametrize("name", packaged_specs())
def test_header_states_the_counts_it_expands_to(name: str) -> None:
    """Every count a packaged spec's header comments state is the one `rdlr plan` computes; each states its models."""
    header = "\n".join(
        line for line in resolve_spec_path(name).read_text(encoding="utf-8").splitlines() if line.startswith("#")
    )
    spec = load_spec(name)
    jobs = spec.jobs()
    configs = sum(job.configs for job in jobs)
    stated = {pattern: re.findall(pattern, header.replace("\n# ", " ")) for pattern in STATED_COUNTS}
    assert stated[MODELS], f"sweeps/{name}.yaml's header states how many models the spec trains"
    for pattern, expected in STATED_COUNTS.items():
        for value in stated[pattern]:
            assert int(value.replace(",", "")) == expected(spec, jobs, configs), (name, pattern, value)


def test_reproduce_returns_the_headline_report_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import rdlr.report.build
    import rdlr.sweep.files

    monkeypatch.setattr(rdlr.sweep.files, "read_results_uri", lambda uri: None)
    monkeypatch.setattr(
        rdlr.report.build,
        "render_report",
        lambda results, out, selection, **kwargs: Path(out) / selection / "README.md",
    )
    headline, beside = reproduce._report(load_spec("table2-paper"), "results.csv", tmp_path)
    assert (headline.parent.name, beside.parent.name) == ("paper", "validation")
    headline, beside = reproduce._report(load_spec("table2"), "results.csv", tmp_path)
    assert (headline.parent.name, beside.parent.name) == ("validation", "paper")

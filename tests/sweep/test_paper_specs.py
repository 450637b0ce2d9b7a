"""The packaged specs of the paper's tables: the full-grid specs (table2-paper, table3-paper) run every method's
whole grid with 5 seeds under test-set selection as headline, and the sampled specs' headers state the counts
their specs expand to."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from rdlr import reproduce
from rdlr.sweep.spec import SpecError, SweepSpec, load_spec
from rdlr.sweep.spec_files import resolve_spec_path


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


def test_table2_header_states_the_counts_it_expands_to() -> None:
    header = Path(resolve_spec_path("table2")).read_text(encoding="utf-8")
    stated = re.search(r"([\d,]+) configurations per held-out corpus, ([\d,]+) models", header)
    assert stated, "sweeps/table2.yaml's header states its configurations and models"
    spec = load_spec("table2")
    configs = sum(job.configs for job in spec.jobs())
    assert int(stated.group(1).replace(",", "")) == configs // len(spec.held_out)
    assert int(stated.group(2).replace(",", "")) == configs * len(spec.seeds)


def test_reproduce_returns_the_headline_report_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import rdlr.report.build
    import rdlr.sweep.files

    monkeypatch.setattr(rdlr.sweep.files, "read_results_uri", lambda uri: None)
    monkeypatch.setattr(rdlr.report.build, "render_report",
                        lambda results, out, selection, **kwargs: Path(out) / selection / "README.md")
    headline, beside = reproduce._report(load_spec("table2-paper"), "results.csv", tmp_path)
    assert (headline.parent.name, beside.parent.name) == ("paper", "validation")
    headline, beside = reproduce._report(load_spec("table2"), "results.csv", tmp_path)
    assert (headline.parent.name, beside.parent.name) == ("validation", "paper")

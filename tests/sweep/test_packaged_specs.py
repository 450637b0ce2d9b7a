"""The packaged specs' headers state their size as `rdlr plan` computes it, and the paper-protocol specs
(sweeps/table2-paper.yaml, table3-paper.yaml) search every configuration of every method's grid with 5 seeds and
lead their report with the paper's test-set selection."""

from __future__ import annotations

import re

import pytest

from rdlr.cli import main
from rdlr.sweep.spec import SpecError, SweepSpec, load_spec
from rdlr.sweep.spec_files import packaged_specs, resolve_spec_path

SIZE_LINE = re.compile(
    r"^# Size \(rdlr plan (?P<name>[\w.-]+)\): (?P<jobs>[\d,]+) jobs, (?P<configs>[\d,]+) configurations per "
    r"held-out corpus, (?P<trials>[\d,]+) trials\.$"
)
PAPER_SPECS = {"table2-paper": "table2", "table3-paper": "table3"}


def header_size(name: str) -> dict[str, int | str]:
    """The numbers of the spec file's "# Size (rdlr plan NAME): ..." header line."""
    lines = resolve_spec_path(name).read_text(encoding="utf-8").splitlines()
    header = [line for line in lines if line.startswith("#")]
    found = [match for match in map(SIZE_LINE.match, header) if match]
    assert len(found) == 1, f"sweeps/{name}.yaml: write one header line '# Size (rdlr plan {name}): ...'"
    numbers = {key: int(value.replace(",", "")) for key, value in found[0].groupdict().items() if key != "name"}
    return {"name": found[0]["name"], **numbers}


@pytest.mark.parametrize("name", packaged_specs())
def test_header_counts_match_the_expansion(name: str) -> None:
    spec = load_spec(name)
    jobs = spec.jobs()
    configs = sum(job.configs for job in jobs)
    assert header_size(name) == {
        "name": spec.id,
        "jobs": len(jobs),
        "configs": configs // len(spec.held_out),
        "trials": spec.num_trials(),
    }
    assert configs % len(spec.held_out) == 0  # every held-out corpus searches the same configurations


@pytest.mark.parametrize(("name", "variant"), PAPER_SPECS.items())
def test_paper_specs_search_every_configuration_of_every_grid(name: str, variant: str) -> None:
    spec, affordable = load_spec(name), load_spec(variant)
    assert spec.id == name and spec.seeds == (0, 1, 2, 3, 4)
    same = ("data", "features", "held_out", "unlabeled", "protocols", "training", "models")
    assert all(getattr(spec, key) == getattr(affordable, key) for key in same)
    jobs = spec.jobs()
    assert [(job.method, job.held_out) for job in jobs] == [(job.method, job.held_out) for job in affordable.jobs()]
    assert all(job.configs == job.grid_size and job.sampler == "grid" for job in jobs)
    assert all(job.space == other.space for job, other in zip(jobs, affordable.jobs()))  # the methods' own sets
    assert max(job.grid_size for job in jobs) == 1296  # CWW + Proxy-Anchor + †: 3 M × 4 λW × 3 λPA × 3 α × 3 δ × 4 λAE
    assert spec.report is not None and spec.report.selection == "paper"
    assert affordable.report is None


def test_table2_paper_counts_and_plan(capsys: pytest.CaptureFixture[str]) -> None:
    spec = load_spec("table2-paper")
    configs = {job.method: job.configs for job in spec.jobs() if job.protocol == "out_of_corpus"}
    assert configs["rdlr_cww_dagger"] == 3 * 7 * 4 * 3 * 4 == 1008  # M, γ, λW, λRD, λAE (Section 3.2)
    assert spec.num_trials() == 100_680
    assert main(["plan", "table2-paper"]) == 0
    out = capsys.readouterr().out
    assert "plan table2-paper: 104 jobs, 100,680 trials (5 seeds each configuration)" in out
    assert "projected table2-paper: 100,680 trials" in out


def test_report_selection_is_checked() -> None:
    raw = load_spec("table2-paper").to_dict()
    assert SweepSpec.from_dict(raw) == load_spec("table2-paper")  # the report section round-trips
    raw["report"] = {"selection": "test"}
    with pytest.raises(SpecError, match=r"report.selection: unknown value 'test'; valid: validation, paper"):
        SweepSpec.from_dict(raw)
    assert "report" not in load_spec("table2").to_dict()  # left out while unset: saved specs read as before

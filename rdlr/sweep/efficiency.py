"""How well a sweep used its slots and how its cost compared with the plan: the line every sweep ends with, kept
beside the results (``<storage>/<spec id>/sweep_runs.json``, one record per run) for the report's README.

* **efficiency** = summed trial wall time / (sweep wall time × trial slots): the trials' wall time is measured by
  each trial in its worker (splitting the rows and training every seed), the sweep's from the start of its first
  Tuner to the end of its last job. 1 means no slot sat idle; Ray's own scheduling and the last trials, running
  while other slots wait, take it below.
* **core-minutes** projected (the plan of what this run had left, :mod:`rdlr.sweep.plan`) against used: the CPU
  time of the trials (process time in their workers), which is what they kept busy whatever else shares the
  machine; ``held`` adds what they held (wall time × CPUs per trial), larger on a shared or oversubscribed machine.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from rdlr.io.safe_text import MAX_BYTES, DocumentError, parse_json
from rdlr.io.storage import Storage

RUNS_FILE = "sweep_runs.json"


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: its trials, their summed wall and CPU seconds, the sweep's wall seconds, its trial slots
    and CPUs per trial, the plan's projected core-minutes (``None``: no projection), when it ended, and the seconds
    before its first trial started (``None``: not recorded)."""

    trials: int
    trial_wall_s: float
    trial_cpu_s: float
    sweep_s: float
    slots: int
    cpus_per_trial: float
    projected_core_minutes: float | None
    ended: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    first_trial_s: float | None = None  # from the sweep's start to its first trial's (its workers' start-up)

    @property
    def efficiency(self) -> float:
        return self.trial_wall_s / (self.sweep_s * self.slots) if self.sweep_s > 0 else 0.0

    @property
    def used_core_minutes(self) -> float:
        return self.trial_cpu_s / 60

    @property
    def held_core_minutes(self) -> float:
        return self.trial_wall_s * self.cpus_per_trial / 60

    def line(self, spec_id: str) -> str:
        """``sweep demo: efficiency 0.96 (... the first after 5 s); core-minutes projected 12.9, used 12.4 ...``."""
        if self.projected_core_minutes is None:
            versus = "no projection"
        else:
            error = self.used_core_minutes / self.projected_core_minutes - 1 if self.projected_core_minutes else 0.0
            versus = f"projected {self.projected_core_minutes:,.1f}, used {self.used_core_minutes:,.1f} ({error:+.0%})"
        first = "" if self.first_trial_s is None else f", the first after {self.first_trial_s:,.0f} s"
        return (
            f"sweep {spec_id}: efficiency {self.efficiency:.2f} ({self.trials} Tune trials: {self.trial_wall_s:,.0f} s "
            f"in {self.sweep_s:,.0f} s × {self.slots} slot{'s' if self.slots != 1 else ''}{first}); "
            f"core-minutes {versus}, CPU time of the trials; {self.held_core_minutes:,.1f} held (wall × CPUs)"
        )


def read_runs(folder: Storage) -> list[SweepRun]:
    """The runs recorded in ``folder`` (a spec's folder under the storage); none when the file is absent or
    cannot be read as such."""
    if not folder.exists(RUNS_FILE):
        return []
    try:
        records = parse_json(folder.read(RUNS_FILE, limit=MAX_BYTES + 1), f"{folder.uri}/{RUNS_FILE}")
        return [SweepRun(**record) for record in records]
    except (DocumentError, TypeError, ValueError):
        return []


def record_run(folder: Storage, run: SweepRun) -> None:
    """Append ``run`` to ``folder``'s record (written whole)."""
    records: list[dict[str, Any]] = [asdict(r) for r in read_runs(folder)] + [asdict(run)]
    folder.write(json.dumps(records, indent=1).encode(), RUNS_FILE)

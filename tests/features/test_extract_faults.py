"""Fault injection: ``rdlr extract`` killed with SIGKILL at several points, then resumed. Nothing stored is computed
again, no utterance is lost or stored twice, and at most the one batch on its way to the store is redone.

Kill points (each run in its own process, on the session's Ray):

1. from outside (``os.kill``) while the extractor works on its 4th batch, after 3 finished batches;
2. from inside, halfway through writing a part file (a temporary file is left behind);
3. from inside, during the final compaction: the merged part is written, the old parts are not yet deleted.

A last run in this process finds nothing to extract, breaks the dead run's lock and finishes the compaction.
The sweep's counterpart is the ``resumed`` fixture of tests/sweep/test_driver.py (killed twice, resumed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import ray.cloudpickle
import soundfile as sf

from rdlr.features import extract, load
from rdlr.features.audio import load_audio
from rdlr.features.base import Extracted, Extractor, ExtractorConfig, UtteranceError
from rdlr.features.registry import register_extractor, unregister_extractor
from rdlr.features.store import DatasetKey, FeatureStore

SR = 16_000
BATCH = 4
GOOD = 20
HELD = "A-12"  # first utterance of the 4th batch: run 1 is killed while the extractor holds it
BATCH_SECONDS = 0.5  # each batch takes this long, so the driver always stores a batch before the next is done
REPO_ROOT = Path(__file__).resolve().parents[2]

RUN = """
import pandas as pd
import ray
from tests.features.test_extract_faults import install_fault, register
ray.init(address={address!r}, log_to_driver=False)
register({control!r})
install_fault({fault!r})
from rdlr.features.pipeline import extract
extract(pd.read_csv({manifest!r}), "slow", {store!r}, workers=1, batch_size={batch}, progress=False)
"""


@dataclass(frozen=True)
class SlowConfig(ExtractorConfig):
    dim: int = 2


class SlowExtractor(Extractor):
    """(seconds, peak) of the audio, ``BATCH_SECONDS`` per batch. Logs each utterance it finished, and holds a
    batch while ``control/hold-<utt_id>`` exists for one of its utterances."""

    name = "slow"
    dim = 2

    def __init__(self, control: str) -> None:
        self.config = SlowConfig()
        self.control = Path(control)

    def extract(self, batch: list[dict]) -> list[Extracted]:
        deadline = time.monotonic() + 120
        while any((self.control / f"hold-{r['utt_id']}").exists() for r in batch) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(BATCH_SECONDS)
        results = []
        for record in batch:
            try:
                audio = load_audio(record["path"])
            except UtteranceError as error:
                results.append(Extracted(error=str(error)))
                continue
            results.append(Extracted(vector=np.array([audio.size / SR, np.abs(audio).max()], dtype=np.float32)))
        with open(self.control / "done.log", "a") as log:
            log.write("".join(f"{record['utt_id']}\n" for record in batch))
        return results


def register(control: str) -> None:
    """Register the ``slow`` feature set (its class shipped to Ray workers by value)."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    register_extractor("slow", lambda models: SlowExtractor(control))


def install_fault(fault: str) -> None:
    """Make this process SIGKILL itself at ``fault``: ``mid-write`` (halfway through the 2nd part file it writes)
    or ``compaction`` (after the merged part of a compaction is written, before the old parts are deleted)."""
    import rdlr.features.store as store

    put_file, compact = store.put_file, store.FeatureStore.compact
    state = {"parts": 0, "compacting": False}

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def faulty_put_file(fs: Any, path: str, write: Any) -> None:
        if "/part-" not in path:
            return put_file(fs, path, write)
        state["parts"] += 1
        if fault == "mid-write" and state["parts"] == 2:

            def half(stream: Any) -> None:
                stream.write(b"PAR1 half of a part file")
                die()

            return put_file(fs, path, half)
        put_file(fs, path, write)
        if fault == "compaction" and state["compacting"]:
            die()

    def compacting(self: Any, *args: Any, **kwargs: Any) -> None:
        state["compacting"] = True
        compact(self, *args, **kwargs)

    if fault != "none":
        store.put_file = faulty_put_file
        store.FeatureStore.compact = compacting


def write_manifest(folder: Path) -> Path:
    rows = []
    for i in range(GOOD):
        t = np.arange(int((0.3 + 0.02 * i) * SR)) / SR
        path = folder / f"a{i:02d}.wav"
        sf.write(path, (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SR)
        rows.append(
            {"utt_id": f"A-{i:02d}", "path": str(path), "corpus": "A", "speaker": f"s{i % 4}", "label": "happy"}
        )
    rows.append(
        {"utt_id": "A-missing", "path": str(folder / "missing.wav"), "corpus": "A", "speaker": "s0", "label": "sad"}
    )
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder / "manifest.csv"


def done(control: Path) -> Counter:
    log = control / "done.log"
    return Counter(log.read_text().split() if log.exists() else [])


def stored(store: Path) -> int:
    key = DatasetKey("slow", SlowConfig().config_hash(), "A")
    return len(FeatureStore(store).ids(key)) + len(FeatureStore(store).ids(key, errors=True))


@dataclass
class Snapshot:
    """The store and the extractor's log after one kill."""

    stored: int  # utterances in the store (vectors and errors)
    finished: Counter  # utterances the extractor finished so far (with repeats)
    locked: bool  # the dead run's lock file is still there
    parts: int  # vector part files
    temporary: int  # temporary files of interrupted writes

    @classmethod
    def take(cls, store: Path, control: Path) -> Snapshot:
        return cls(
            stored(store),
            done(control),
            (store / ".lock").exists(),
            len([p for p in store.rglob("part-*.parquet") if p.parent.name == "A"]),
            len(list(store.rglob(".tmp-*"))),
        )


@pytest.fixture(scope="module")
def killed_three_times(ray_session: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("faults")
    control, store = folder / "control", folder / "store"
    control.mkdir()
    manifest = write_manifest(folder)
    address = ray_session.get_runtime_context().gcs_address

    def start(fault: str) -> subprocess.Popen:
        code = RUN.format(
            address=address, control=str(control), fault=fault, manifest=str(manifest), store=str(store), batch=BATCH
        )
        return subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )

    (control / f"hold-{HELD}").touch()
    first = start("none")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and first.poll() is None and stored(store) < 3 * BATCH:
        time.sleep(0.1)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate()
    snapshots = {"after kill 1": Snapshot.take(store, control)}
    time.sleep(3)  # Ray ends the dead driver's actor (still holding its batch) before the hold is lifted
    (control / f"hold-{HELD}").unlink()
    for fault in ("mid-write", "compaction"):
        process = start(fault)
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == -signal.SIGKILL, stderr.decode()[-3000:]
        snapshots[f"after {fault}"] = Snapshot.take(store, control)
        time.sleep(1)
    register(str(control))
    try:
        summary = extract(pd.read_csv(manifest), "slow", str(store), workers=1, batch_size=BATCH, progress=False)
        table = load(store, "slow", "A")
    finally:
        unregister_extractor("slow")
    return {
        "store": store,
        "snapshots": snapshots,
        "done": done(control),
        "summary": summary,
        "table": table,
        "manifest": pd.read_csv(manifest),
    }


def test_each_kill_left_its_finished_batches_in_the_store(killed_three_times: dict[str, Any]) -> None:
    first, second, third = killed_three_times["snapshots"].values()
    # killed from outside while the 4th batch was held: the 3 finished batches are all stored
    assert first.stored == sum(first.finished.values()) >= 3 * (BATCH - 1) and HELD not in first.finished
    assert first.locked
    # killed halfway through writing a part: only that batch is missing, its temporary file left behind
    assert 0 < sum(second.finished.values()) - second.stored <= BATCH and second.temporary == 1 and second.locked
    # killed in the compaction: everything stored, the merged part beside the old ones
    assert third.stored == GOOD + 1 and third.parts > 1 and third.locked


def test_nothing_stored_is_recomputed_and_at_most_one_batch_is_redone(killed_three_times: dict[str, Any]) -> None:
    counts = killed_three_times["done"]
    assert set(counts) == set(killed_three_times["manifest"]["utt_id"])
    redone = sorted(utt for utt, n in counts.items() if n > 1)
    assert all(counts[utt] == 2 for utt in redone) and len(redone) <= BATCH, counts
    summary = killed_three_times["summary"]
    assert summary.runs == [] and summary.extracted == 0  # the last run only finished the compaction
    assert {(c.present, c.failed_before) for c in summary.counts} == {(GOOD, 1)}


def test_no_utterance_is_lost_or_stored_twice(killed_three_times: dict[str, Any]) -> None:
    store = killed_three_times["store"]
    (dataset,) = {path.parent for path in store.rglob("part-*.parquet") if path.parent.name == "A"}
    (features,) = dataset.glob("part-*.parquet")
    (errors,) = (dataset / "errors").glob("part-*.parquet")
    ids = pq.read_table(features).column("utt_id").to_pylist()
    assert sorted(ids) == [f"A-{i:02d}" for i in range(GOOD)]  # each once, in the one merged part
    assert pq.read_table(errors).column("utt_id").to_pylist() == ["A-missing"]
    assert not [p for p in store.rglob(".*") if p.name.startswith((".tmp-", ".lock"))]  # no leftovers, unlocked
    table, manifest = killed_three_times["table"], killed_three_times["manifest"].set_index("utt_id")
    assert table.meta["speaker"].tolist() == manifest.loc[table.meta["utt_id"], "speaker"].tolist()
    seconds = table.meta["utt_id"].str[2:].astype(int).to_numpy() * 0.02 + 0.3
    np.testing.assert_allclose(table.x[:, 0], seconds, rtol=1e-3)

"""The shared manifest checks of rdlr.corpora.manifest: one utt_id uniqueness check for every reader."""

from __future__ import annotations

import pandas as pd
import pytest

from rdlr.corpora.manifest import ManifestBuilder, ManifestError, check_unique_ids


def test_unique_ids_pass_and_repeats_are_named_with_counts_and_lines() -> None:
    check_unique_ids(pd.DataFrame({"utt_id": ["a", "b", "c"]}), "m.csv")
    frame = pd.DataFrame({"utt_id": ["a", "b", "a", "c", "b", "a"]}, index=[10, 11, 12, 13, 14, 15])
    with pytest.raises(
        ManifestError,
        match=r"^m\.csv: duplicate utt_id value\(s\) 'a' \(3 rows\), 'b' \(2 rows\); "
        r"utt_id must be unique$",
    ):
        check_unique_ids(frame, "m.csv")
    with pytest.raises(ManifestError, match=r"'a' \(3 rows, first at line 2\), 'b' \(2 rows, first at line 3\)"):
        check_unique_ids(frame, "m.csv", first_line=2)


def test_a_loader_that_finds_one_utterance_twice_fails(tmp_path) -> None:
    builder = ManifestBuilder("X")
    for _ in range(2):
        builder.add(utt_id="u1", path=tmp_path / "u1.wav", speaker="s", label="sad")
    with pytest.raises(ManifestError, match=r"^X: duplicate utt_id value\(s\) 'u1' \(2 rows\)"):
        builder.build(check_audio=False)

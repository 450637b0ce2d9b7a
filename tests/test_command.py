"""The `rdlr` command dispatches to every subcommand."""

from __future__ import annotations

import pytest

from rdlr.cli import SUBCOMMANDS, build_parser, main


def test_every_subcommand_has_a_parser_and_a_runner():
    parser = build_parser()
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([name, "--help"])
        assert exit_info.value.code == 0


def test_unknown_method_in_a_spec_fails_before_ray_starts(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "id: bad\ndata: {source: demo}\nfeatures: [is10]\nheld_out: [CRE-demo]\n"
        "protocols: {out_of_corpus: [rdrl]}\nseeds: [0]\n"
    )
    code = main(["sweep", str(spec), "--storage", str(tmp_path / "runs")])
    assert code != 0
    assert "unknown method 'rdrl'" in capsys.readouterr().err

"""``rdlr serve`` refuses what it cannot serve with one line and exit 2, before any Ray starts."""

from __future__ import annotations

import shutil
import socket

import pytest

from rdlr.cli import main


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["serve", *argv]) == 2
    error = capsys.readouterr().err
    assert error.startswith("rdlr serve: error: ") and error.count("\n") == 1
    return error


def test_bad_folders_names_ports_replicas_and_engines_are_refused(served_models, tmp_path, capsys):
    alpha = str(served_models[0])
    assert "model folder not found" in refused(capsys, str(tmp_path / "nowhere"))
    twin = tmp_path / "twin" / "alpha"
    shutil.copytree(alpha, twin)
    assert "two model folders are named 'alpha'" in refused(capsys, alpha, str(twin))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        assert f"cannot listen on 127.0.0.1:{port}" in refused(capsys, alpha, "--port", port)
    assert "--replicas 0: give at least 1" in refused(capsys, alpha, "--replicas", "0")
    assert "--replicas 4096" in refused(capsys, alpha, "--replicas", "4096")
    assert "write it with rdlr onnx" in refused(capsys, alpha, "--engine", "onnx")

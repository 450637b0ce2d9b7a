"""The stage-1 cache as a trial sees it: a local folder, also when the sweep's storage is a URI such as ``s3://``.

LR (10) and self-KD train a stage-1 model first (one per seed and stage-1 hyperparameters: every γ of LR shares
it); its logits on the training rows and its final metrics (not the model) are cached under
``<storage>/<spec_id>/stage1`` and reused by every trial that needs them (:func:`rdlr.train.run_trial` reads and
writes a local folder). On a remote storage path each node keeps a mirror: files the remote holds are
pulled before the trial, and files the trial added are pushed after it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rdlr.sweep.files import STAGE1_DIR, SweepFiles

MIRROR_ROOT = "rdlr-stage1"  # under the node's temporary folder, one sub-folder per remote cache


@contextmanager
def stage1_cache(files: SweepFiles, needed: bool) -> Iterator[str | None]:
    """Stage-1 cache folder: under the storage path, or a node-local mirror of a remote one (pull, then push);
    ``None`` when the method has no stage 1."""
    if not needed:
        yield None
        return
    remote = files.dir.child(STAGE1_DIR)
    if remote.is_local:
        yield remote.root
        return
    digest = hashlib.sha1(remote.uri.encode()).hexdigest()[:12]
    local = Path(tempfile.gettempdir()) / MIRROR_ROOT / digest
    local.mkdir(parents=True, exist_ok=True)
    for name in set(remote.list()) - {p.name for p in local.iterdir()}:
        tmp = local / f".{name}.{uuid.uuid4().hex}.tmp"  # atomic: concurrent trials may read it at once
        tmp.write_bytes(remote.read(name))
        os.replace(tmp, local / name)
    before = {p.name for p in local.iterdir()}
    yield str(local)
    for path in local.iterdir():
        if path.name not in before and not path.name.endswith(".tmp"):
            remote.write(path.read_bytes(), path.name)

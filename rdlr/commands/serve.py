"""``rdlr serve MODEL_DIR [MODEL_DIR ...]``: an HTTP service on Ray Serve with a page to try the models
(:mod:`rdlr.serve`).

::

    rdlr serve model/ other_model/ --port 8000          # then open http://127.0.0.1:8000/
    curl -X POST --data-binary @clip.wav 'http://127.0.0.1:8000/predict?model=model'
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rdlr.commands.errors import fail
from rdlr.commands.options import add_address, add_engine, add_verbose


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rdlr serve``."""
    parser.add_argument(
        "models",
        nargs="+",
        type=Path,
        metavar="MODEL_DIR",
        help="model folders to serve; each is named by its folder's name (POST /predict?model=NAME; "
        "the first is the default)",
    )
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for every "
        "interface, e.g. on a cluster's head node)",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="front-end replicas, each decoding requests and extracting features on one CPU "
        "(default 1); the classifier of each model batches the requests of all of them",
    )
    add_engine(parser)
    add_address(parser)
    add_verbose(parser)


def run(args: argparse.Namespace) -> int:
    """Check the models and options, then serve until Ctrl-C."""
    from rdlr.models.folder import ModelFolderError
    from rdlr.serve.service import ServeError, serve_models

    try:
        serve_models(
            args.models,
            host=args.host,
            port=args.port,
            replicas=args.replicas,
            address=args.address,
            engine=args.engine,
            verbose=args.verbose,
        )
    except ImportError as error:
        return fail("serve", f"{error}; rdlr serve needs Ray Serve: pip install 'rdlr[serve]'")
    except (ModelFolderError, ServeError, ValueError, OSError) as error:
        return fail("serve", error)
    return 0

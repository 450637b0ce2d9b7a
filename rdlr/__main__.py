"""``python -m rdlr``: the ``rdlr`` command (:func:`rdlr.cli.main`)."""

import sys

from rdlr.cli import main

if __name__ == "__main__":
    sys.exit(main())

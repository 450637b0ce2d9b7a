"""The ``rdlr`` subcommands, one module each (``configure_parser(parser)`` and ``run(args) -> int``), dispatched by
:mod:`rdlr.cli`; the options two commands share are declared once in :mod:`rdlr.commands.options`, and bad input
is reported by :func:`rdlr.commands.errors.fail`. This package imports nothing itself, so ``rdlr --help`` stays
fast."""

"""Reading and writing: local-or-URI folders with atomic writes, listing and locks (:mod:`rdlr.io.storage`), the
one safe YAML/JSON reader (:mod:`rdlr.io.safe_text`) and experiment tracking (:mod:`rdlr.io.tracking`). Import the
submodules; this package imports nothing itself."""

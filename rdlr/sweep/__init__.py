"""Sweeps: a validated spec (:mod:`rdlr.sweep.spec`) run as Ray Tune jobs (:mod:`rdlr.sweep.driver`), one results row
per trial (:mod:`rdlr.sweep.files`). Import the submodules; this package imports nothing heavy itself."""

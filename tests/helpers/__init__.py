"""Helpers the tests share (synthetic feature tables, small specs, generated corpus trees, slow reference loops, the
sweep, reproduce and train commands run in-process); no tests here."""

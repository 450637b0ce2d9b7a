"""Helpers the tests share (synthetic feature tables, generated corpus trees, slow reference loops, the sweep command
run in-process); no tests here."""

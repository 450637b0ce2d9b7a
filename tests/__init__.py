"""The test suite as a package: every test module has a unique dotted name (``tests.sweep.test_driver``), so test
files in different folders may share a basename, and the shared helpers import as ``tests.helpers.<module>`` from
the repository root, which pytest puts on the path (the first folder above ``tests/`` without an ``__init__.py``)."""

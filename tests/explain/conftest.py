"""Fixtures of the explain tests."""

from ..evaluation.conftest import stage  # noqa: F401  (a fixture: `python stages/<script>`)

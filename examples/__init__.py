"""Worked examples of extending the harness from outside it (docs/plugins.md)."""

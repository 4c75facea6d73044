"""Sources of published numbers, one module per source, below both `experiment` and `reporting`.

A source is what someone printed or logged about a model: the MREN paper's tables and prose (`paper.py`, transcribed
in `paper_tables.json`), and in time a model's own paper or its authors' training logs. Each module reads its own
data file beside it (package data: pyproject.toml ships every `*.json` here), validates it once into typed frozen
objects, and keeps each number's provenance (where it was printed: the source and the line it came from).

Specs (`harness/experiment/spec.py`) read a source to know which tables and rows exist; reports
(`harness/reporting/`) lay records beside it. So a source imports neither of them: only the shared modules at the top
of `harness/` (`conventions.py`), and pydantic.
"""

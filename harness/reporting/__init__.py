"""Reporting: tables of trial records beside the published numbers (harness/published), findings, figures, HTML and
LaTeX, and the drift gate."""

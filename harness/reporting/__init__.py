"""Reporting: the paper's transcription, tables beside it, findings, figures, HTML and LaTeX, and the drift gate."""

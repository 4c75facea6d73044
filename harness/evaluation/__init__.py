"""Evaluation: metrics, scoring a model on a benchmark set under a protocol, complexity, weights, visual crops."""

"""mren-harness: reproduce and ablate MREN and lightweight SR baselines."""

"""Experiments: specs expand to trials, `run_trial` runs one, and the grid (grid_policy, ray_executor, grid_sinks)
runs many."""

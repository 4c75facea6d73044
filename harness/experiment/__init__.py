"""Experiments: specs expand to trials, `run_trial` runs one, and the scheduler (the only Ray code) runs a grid."""

"""Training: the budgets (profiles) and the loop, with its resumable checkpoints."""

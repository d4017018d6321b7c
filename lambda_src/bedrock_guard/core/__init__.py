"""Shared core of the three Lambdas: budget arithmetic, prices, principals, table keys.

Nothing here imports from a wing (gate, enforcer, meter)."""

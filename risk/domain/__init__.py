"""Pure risk domain: pre-trade checks and order rate limits (no Django, no I/O)."""

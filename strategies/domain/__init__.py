"""Pure strategy domain: parameters and the decision (no Django, no I/O)."""

"""Reconciliation: our books against the venues' own records, and venue-side changes adopted."""

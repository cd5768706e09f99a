"""Portfolio: PnL booking from the one money model, carry, position snapshots."""

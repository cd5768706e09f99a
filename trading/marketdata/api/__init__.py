"""Market-data API: quotes, spreads, quote sources and source pairs."""

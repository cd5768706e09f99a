"""The trading desk's pages: the records (orders, hedges, fills, positions) with their PnL, a hedge's detail and
manual actions, a pool's desk. Above the capabilities it shows (execution, portfolio, manual), none of which
imports it."""

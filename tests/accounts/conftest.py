"""Fixtures of the identity tests: alpha's market data comes from the trading tests' fixture."""

from tests.trading.conftest import alpha_market  # noqa: F401 (re-exported as a fixture)

"""Binance USDⓈ-M through ccxt: the gateway and the execution venue."""

"""Venue adapters: the only package that imports ccxt, MetaTrader5 or rpyc (import-linter enforces it)."""

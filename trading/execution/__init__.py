"""Execution: the order path (gate, fenced writes, executor), fills, the paper venue, and the execution pages."""

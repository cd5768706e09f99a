"""MetaTrader 5: the gateway, its backends (native, rpyc bridge, simulated) and the execution venue."""

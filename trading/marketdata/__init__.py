"""Market data: quote feeds, the pipeline and spread engine, the tick store, live state and push, and their pages and
API.
"""

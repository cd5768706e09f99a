"""The trading API (strategies, records, kill switches, reconciliation, manual commands): `views`, their
`serializers`, the list `filters` and the `urls` mounted under /api/v1/."""

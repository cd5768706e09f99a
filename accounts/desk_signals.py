"""`desk_created`: a desk was created through the product (`accounts.services.desk_create`: the platform operator's
admin page, the demo seed). Apps above accounts give a new desk what it starts with (risk: its default limits)
without accounts knowing them."""

from __future__ import annotations

from django.dispatch import Signal

desk_created = Signal()  # sender: the Tenant class; kwargs: tenant, actor

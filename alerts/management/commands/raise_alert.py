"""Raise (or bump) an alert by hand: for operators' drills and for checking channels end to end."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Tenant
from alerts.choices import Category, Severity
from alerts.services import alert_raise


class Command(BaseCommand):
    help = "Raise an alert in a tenant (the same --key again bumps its count), notifying its channels."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--title", required=True)
        parser.add_argument("--key", required=True, help="dedup key")
        parser.add_argument("--category", default=Category.SYSTEM, choices=Category.values)
        parser.add_argument("--severity", default=Severity.WARNING, choices=Severity.values)
        parser.add_argument("--detail", default="{}", help="a JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"no tenant {options['tenant']!r}")
        try:
            detail = json.loads(options["detail"])
        except json.JSONDecodeError as error:
            raise CommandError(f"--detail is not JSON: {error}") from None
        if not isinstance(detail, dict):
            raise CommandError("--detail must be a JSON object")
        raised = alert_raise(
            tenant=tenant,
            category=options["category"],
            severity=options["severity"],
            title=options["title"],
            dedup_key=options["key"],
            detail=detail,
        )
        verb = "raised" if raised.created else "bumped"
        self.stdout.write(f"{verb} alert {raised.alert.pk} (count {raised.alert.count})")

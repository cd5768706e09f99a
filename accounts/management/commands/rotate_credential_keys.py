"""Re-encrypt every stored credential with the first key of QUANTARB_FIELD_KEYS.

Rotation: put the new key first (`QUANTARB_FIELD_KEYS=new,old`), run this command, then remove the old key.
Rows are re-encrypted in batches, each in its own transaction; re-running is safe (a row already under the
first key is simply encrypted again).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from accounts.crypto import rotate_token
from accounts.models import VenueAccount

BATCH = 200


class Command(BaseCommand):
    help = "Re-encrypt every stored credential with the first key of QUANTARB_FIELD_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        table = connection.ops.quote_name(VenueAccount._meta.db_table)
        done = 0
        last_id = 0
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                # Raw tokens: the field would decrypt them, and rotation works on the tokens themselves.
                cursor.execute(
                    f"SELECT id, credentials FROM {table} WHERE id > %s AND credentials IS NOT NULL "  # noqa: S608
                    f"AND credentials <> '' ORDER BY id LIMIT %s",
                    [last_id, BATCH],
                )
                rows = cursor.fetchall()
                if not rows:
                    break
                for row_id, token in rows:
                    cursor.execute(
                        f"UPDATE {table} SET credentials = %s WHERE id = %s",  # noqa: S608
                        [rotate_token(token), row_id],
                    )
                    last_id = row_id
                done += len(rows)
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted the credentials of {done} account(s) with the first key."))

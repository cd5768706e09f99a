"""Quote sources and pairs owned by a desk: a tenant on both (empty: the platform's reference
data), an MT5 source's terminal as a foreign key, and uniqueness per desk.

MT5 sources that named their terminal in the endpoint (`terminal:<id>`) move to the terminal field and to that
terminal's desk.
"""

import django.db.models.deletion
from django.db import migrations, models


def terminal_endpoints_to_field(apps, schema_editor):
    QuoteSource = apps.get_model("trading", "QuoteSource")
    TerminalInstance = apps.get_model("mt5ops", "TerminalInstance")
    for source in QuoteSource.objects.filter(endpoint__startswith="terminal:"):
        number = source.endpoint.split(":", 1)[1]
        terminal = TerminalInstance.objects.filter(pk=int(number)).first() if number.isdigit() else None
        if terminal is None:
            continue  # a terminal that no longer exists: the source stays as it was (and is not streamed)
        source.terminal_id = terminal.pk
        source.tenant_id = terminal.tenant_id
        source.endpoint = ""
        source.save(update_fields=["terminal", "tenant", "endpoint"])


def terminal_field_to_endpoints(apps, schema_editor):
    QuoteSource = apps.get_model("trading", "QuoteSource")
    for source in QuoteSource.objects.filter(terminal__isnull=False):
        source.endpoint = f"terminal:{source.terminal_id}"
        source.save(update_fields=["endpoint"])


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0014_audit_market_setup_actions'),
        ('mt5ops', '0002_terminal_health'),
        ('trading', '0012_carry_inputs'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='quotesource',
            name='source_unique_endpoint',
        ),
        migrations.RemoveConstraint(
            model_name='sourcepair',
            name='pair_unique_sources',
        ),
        migrations.AddField(
            model_name='quotesource',
            name='tenant',
            field=models.ForeignKey(blank=True, help_text='Empty: a platform source, shared by every desk.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='quote_sources', to='accounts.tenant', verbose_name='tenant'),
        ),
        migrations.AddField(
            model_name='quotesource',
            name='terminal',
            field=models.ForeignKey(blank=True, help_text='MT5 sources: the terminal instance the quotes are read from.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='quote_sources', to='mt5ops.terminalinstance', verbose_name='MT5 terminal'),
        ),
        migrations.AddField(
            model_name='sourcepair',
            name='tenant',
            field=models.ForeignKey(blank=True, help_text='Empty: a platform pair.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='source_pairs', to='accounts.tenant', verbose_name='tenant'),
        ),
        migrations.AlterField(
            model_name='quotesource',
            name='endpoint',
            field=models.CharField(blank=True, help_text="Empty: the venue's default. A REST base URL, optionally followed by the WebSocket base URL.", max_length=401, verbose_name='endpoint'),
        ),
        migrations.RunPython(terminal_endpoints_to_field, terminal_field_to_endpoints),
        migrations.AddConstraint(
            model_name='quotesource',
            constraint=models.UniqueConstraint(condition=models.Q(('tenant__isnull', True)), fields=('venue', 'endpoint', 'instrument'), name='source_unique_platform_endpoint'),
        ),
        migrations.AddConstraint(
            model_name='quotesource',
            constraint=models.UniqueConstraint(condition=models.Q(('tenant__isnull', False), ('terminal__isnull', True)), fields=('tenant', 'venue', 'endpoint', 'instrument'), name='source_unique_tenant_endpoint'),
        ),
        migrations.AddConstraint(
            model_name='quotesource',
            constraint=models.UniqueConstraint(condition=models.Q(('terminal__isnull', False)), fields=('venue', 'instrument', 'terminal'), name='source_unique_terminal'),
        ),
        migrations.AddConstraint(
            model_name='sourcepair',
            constraint=models.UniqueConstraint(condition=models.Q(('tenant__isnull', True)), fields=('perp_source', 'cfd_source'), name='pair_unique_platform_sources'),
        ),
        migrations.AddConstraint(
            model_name='sourcepair',
            constraint=models.UniqueConstraint(condition=models.Q(('tenant__isnull', False)), fields=('tenant', 'perp_source', 'cfd_source'), name='pair_unique_tenant_sources'),
        ),
    ]

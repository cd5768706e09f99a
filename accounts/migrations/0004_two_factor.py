"""A tenant can require two-factor sign-in of its admins; two audit actions appended (enrolment, unlock).
The axes and django-otp tables come from those apps' own migrations."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_auditevent_append_only'),
    ]

    operations = [
        migrations.AddField(
            model_name='tenant',
            name='require_admin_two_factor',
            field=models.BooleanField(default=False, help_text='Admins of this desk must confirm each sign-in with a code from an authenticator app.', verbose_name='require two-factor sign-in for admins'),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('login', 'Login'), ('logout', 'Logout'), ('login_failed', 'Failed login'), ('lockout', 'Lockout'), ('token_issued', 'Token issued'), ('token_refreshed', 'Token refreshed'), ('token_revoked', 'Token revoked'), ('membership_created', 'Membership created'), ('membership_changed', 'Membership changed'), ('membership_deleted', 'Membership deleted'), ('role_changed', 'Role changed'), ('user_created', 'User created'), ('secret_created', 'Secret created'), ('secret_updated', 'Secret updated'), ('secret_tested', 'Secret tested'), ('secret_viewed', 'Secret viewed'), ('strategy_started', 'Strategy started'), ('strategy_stopped', 'Strategy stopped'), ('order_submitted', 'Order submitted'), ('order_cancelled', 'Order cancelled'), ('kill_switch', 'Kill switch'), ('reconciliation_sync', 'Reconciliation sync'), ('settings_changed', 'Settings changed'), ('two_factor_enrolled', 'Two-factor enrolled'), ('lockout_cleared', 'Lockout cleared')], max_length=32, verbose_name='action'),
        ),
    ]

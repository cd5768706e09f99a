"""Django's `makemessages`, also extracting the templates of the domain's validation problems.

The pure domain cannot call gettext (no Django there), so it writes each problem's English template as the third
argument of `problem(field, code, template, **params)` (trading/domain/sizing.py); the keyword `problem:3` makes
xgettext take those templates into the catalogue where they are written, and `strategies.messages.problem_text`
translates them from the template the problem carries.
"""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=problem:3"]

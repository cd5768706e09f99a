"""The error page and error e-mails never show secrets, DEBUG or not.

Django's `SafeExceptionReporterFilter` hides sensitive POST parameters only when DEBUG is off; the embedded
mode may run with DEBUG on, on a desk's own machine, with real keys typed into forms. This filter is always
active and also hides every POST parameter whose name looks like a secret (the same names Django hides in
settings: key, secret, password, token…), whether or not the view declared it.

Nor do they show any frame's local variables: a local may hold a password being checked or a 100 KB value a
caller sent, and rendering them is what let one request's error stall the server. The file, line and
code of each frame are enough to find a fault; the values come from reproducing it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter


class AlwaysSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request: HttpRequest | None) -> bool:
        return True

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> Any:
        return []

    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        parameters = super().get_post_parameters(request)
        if request is None or not hasattr(parameters, "copy"):
            return parameters
        cleansed = parameters.copy()
        for name in list(cleansed.keys()):
            if self.hidden_settings.search(name) or name in ("login", "otp", "code"):
                cleansed[name] = self.cleansed_substitute
        return cleansed

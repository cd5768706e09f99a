"""Language per request: the user's saved choice, else the `django_language` cookie, else Accept-Language."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import trans_real


def language_for(user: Any, cookies: dict[str, str], accept_language: str) -> str:
    supported = {code for code, _name in settings.LANGUAGES}
    saved = getattr(user, "language", "") if getattr(user, "is_authenticated", False) else ""
    if saved in supported:
        return saved
    # Language codes are case-insensitive (`zh-Hans` is `zh-hans`); Django's lookup is not.
    cookie = cookies.get(settings.LANGUAGE_COOKIE_NAME, "").lower()
    if cookie:
        try:
            return translation.get_supported_language_variant(cookie)
        except LookupError:
            pass
    for code, _quality in trans_real.parse_accept_lang_header(accept_language or ""):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


class UserLanguageMiddleware:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        language = language_for(request.user, request.COOKIES, request.headers.get("Accept-Language", ""))
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", language)
        return response

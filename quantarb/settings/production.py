"""Production: the services topology (compose.yaml). Every secret must come from the environment."""

from .base import *  # noqa: F403
from .base import SECRET_KEY, SILENCED_SYSTEM_CHECKS, env

if not SECRET_KEY:
    raise RuntimeError("DJANGO_SECRET_KEY must be set in production")

DEBUG = False
WHITENOISE_USE_FINDERS = False
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Behind the TLS terminator (deploy/README or compose's proxy), which sets X-Forwarded-Proto: plain HTTP is
# redirected, and browsers are told to use HTTPS only (HSTS), a year, subdomains included once
# DJANGO_HSTS_INCLUDE_SUBDOMAINS says every subdomain serves HTTPS.
# https://docs.djangoproject.com/en/5.2/ref/middleware/#http-strict-transport-security
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# The probes reach the containers directly over plain HTTP: they are not redirected.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
# security.W021 asks for HSTS preload: submitting a domain to the browsers' preload list is the domain owner's
# decision (hard to undo), so it stays opt-in (DJANGO_HSTS_PRELOAD) rather than a warning on every deploy.
SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "security.W021"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

"""ASGI entry point: Django for HTTP (on a fixed pool of request threads, quantarb/web_handler.py), Channels for
`/ws/...` (session auth, origin checked at the handshake)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantarb.settings.local")
# What django.core.asgi.get_asgi_application does, with our handler in place of its stock one.
django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402

from quantarb.web_handler import PooledASGIHandler  # noqa: E402

django_asgi_app = PooledASGIHandler(threads=settings.QUANTARB_WEB_THREADS)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from accounts.session_asgi import PortalSessionGuard  # noqa: E402
from quantarb.routing import websocket_urlpatterns  # noqa: E402
from quantarb.ws_direct import CaptureSend  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # https://channels.readthedocs.io/en/stable/topics/security.html#origin-validation
        # CaptureSend, outermost, keeps the server's own `send` for the fan-out fast path (quantarb/ws_direct.py).
        # PortalSessionGuard: a socket of an ended or timed-out portal session connects as anonymous.
        "websocket": CaptureSend(
            AllowedHostsOriginValidator(AuthMiddlewareStack(PortalSessionGuard(URLRouter(websocket_urlpatterns))))
        ),
    }
)

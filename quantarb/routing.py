from django.urls import path

from trading.consumers import SpreadConsumer

websocket_urlpatterns = [path("ws/spreads/", SpreadConsumer.as_asgi())]

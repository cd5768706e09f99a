from django.urls import path

from strategies.consumers import StrategyConsumer
from trading.marketdata.consumers import SpreadConsumer

websocket_urlpatterns = [
    path("ws/spreads/", SpreadConsumer.as_asgi()),
    path("ws/strategies/<int:strategy_id>/", StrategyConsumer.as_asgi()),
]

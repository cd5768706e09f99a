from django.urls import path

from trading.marketdata.api import setup_views, views

urlpatterns = [
    path("quotes/", views.QuoteList.as_view(), name="market-quotes"),
    path("spreads/latest/", views.LatestSpreadList.as_view(), name="market-spreads-latest"),
    path("spreads/candles/", views.CandleList.as_view(), name="market-spreads-candles"),
    path("opportunities/", views.OpportunityList.as_view(), name="market-opportunities"),
    path("sources/", setup_views.QuoteSourceList.as_view(), name="market-sources"),
    path("sources/<int:source_id>/", setup_views.QuoteSourceDetail.as_view(), name="market-source"),
    path("pairs/", setup_views.SourcePairList.as_view(), name="market-pairs"),
    path("pairs/<int:pair_id>/", setup_views.SourcePairDetail.as_view(), name="market-pair"),
]

from django.urls import path

from . import views

urlpatterns = [
    path("quotes/", views.QuoteList.as_view(), name="market-quotes"),
    path("spreads/latest/", views.LatestSpreadList.as_view(), name="market-spreads-latest"),
    path("spreads/candles/", views.CandleList.as_view(), name="market-spreads-candles"),
    path("opportunities/", views.OpportunityList.as_view(), name="market-opportunities"),
]

from django.urls import path

from trading.desk import views

urlpatterns = [
    path("hedges/", views.hedge_list, name="hedges"),
    path("hedges/export/", views.hedge_export, name="hedges_export"),
    path("hedges/<int:hedge_id>/", views.hedge_detail, name="hedge"),
    path("hedges/<int:hedge_id>/manual/", views.hedge_manual, name="hedge_manual"),
    path("hedges/<int:hedge_id>/confirm/<str:kind>/", views.hedge_confirm, name="hedge_confirm"),
    path("orders/", views.order_list, name="orders"),
    path("orders/export/", views.order_export, name="orders_export"),
    path("fills/", views.fill_list, name="fills"),
    path("fills/export/", views.fill_export, name="fills_export"),
    path("positions/", views.position_list, name="positions"),
    path("positions/export/", views.position_export, name="positions_export"),
    path("pools/<int:pool_id>/", views.pool_desk, name="pool_desk"),
    path("pools/<int:pool_id>/manual/", views.pool_manual, name="pool_manual"),
    path("pools/<int:pool_id>/confirm/<str:kind>/", views.pool_confirm, name="pool_confirm"),
    path("commands/<int:command_id>/", views.command_status, name="command"),
]

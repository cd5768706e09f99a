from django.urls import path

from . import views

urlpatterns = [
    path("", views.terminal_list, name="terminals"),
    path("<int:terminal_id>/delete/", views.terminal_delete, name="terminal_delete"),
]

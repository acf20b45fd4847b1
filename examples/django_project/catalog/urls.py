from django.urls import path

from . import views

urlpatterns = [
    path("products", views.products),
    path("products-async", views.products_async),
    path("export", views.export),
    path("health", views.health),
]

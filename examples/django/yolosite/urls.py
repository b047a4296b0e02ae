from django.urls import path

from detection import views

urlpatterns = [
    path("", views.index, name="index"),
    path("healthz", views.healthz, name="healthz"),
    path("detect", views.detect, name="detect"),
    path("metrics", views.metrics, name="metrics"),
    path("admin/reload", views.admin_reload, name="admin-reload"),
]

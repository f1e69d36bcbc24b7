"""Routes of the training app: the staff dashboard, inside the admin."""

from django.contrib import admin
from django.urls import path

from training.admin.dashboard import dashboard

urlpatterns = [path("admin/dashboard/", admin.site.admin_view(dashboard), name="admin-dashboard")]

"""Routes of the data feeds (imports), mounted at ``feeds/``."""

from django.urls import path

from workflow import views

app_name = "feeds"

urlpatterns = [
    path("", views.ImportListView.as_view(), name="import_list"),
    path("<int:pk>/", views.ImportDetailView.as_view(), name="import_detail"),
    path("<int:pk>/status/", views.ImportStatusView.as_view(), name="import_status"),
]

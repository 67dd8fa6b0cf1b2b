"""Routes of nightly runs, mounted at ``runs/``."""

from django.urls import path

from workflow import run_views

app_name = "runs"

urlpatterns = [
    path("", run_views.RunListView.as_view(), name="run_list"),
    path("<int:pk>/", run_views.RunDetailView.as_view(), name="run_detail"),
    path("what-if/<int:pk>/", run_views.WhatIfStartView.as_view(), name="what_if"),
    path(
        "accounts/<int:pk>/latest/",
        run_views.AccountAnalysisView.as_view(),
        name="account_analysis",
    ),
]

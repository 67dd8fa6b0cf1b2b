from django.urls import path

from models_hub import views

app_name = "securities"

urlpatterns = [
    path("securities/", views.SecurityListView.as_view(), name="security_list"),
    path("securities/<int:pk>/", views.SecurityDetailView.as_view(), name="security_detail"),
]

from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("households/", views.HouseholdListView.as_view(), name="household_list"),
    path("households/<int:pk>/", views.HouseholdDetailView.as_view(), name="household_detail"),
    path("accounts/", views.AccountListView.as_view(), name="account_list"),
    path("accounts/<int:pk>/", views.AccountDetailView.as_view(), name="account_detail"),
    path("positions/<int:pk>/", views.PositionDetailView.as_view(), name="position_detail"),
]

from django.urls import path

from accounts import bulk_views, impact_views, settings_views, views

app_name = "accounts"

urlpatterns = [
    path("households/", views.HouseholdListView.as_view(), name="household_list"),
    path("households/<int:pk>/", views.HouseholdDetailView.as_view(), name="household_detail"),
    path(
        "households/<int:pk>/settings/",
        settings_views.HouseholdSettingsView.as_view(),
        name="household_settings",
    ),
    path("accounts/", views.AccountListView.as_view(), name="account_list"),
    path("accounts/filters/", bulk_views.SavedFilterListView.as_view(), name="saved_filters"),
    path("accounts/bulk/", bulk_views.BulkChangeView.as_view(), name="bulk_change"),
    path("accounts/<int:pk>/", views.AccountDetailView.as_view(), name="account_detail"),
    path(
        "accounts/<int:pk>/settings/",
        settings_views.AccountSettingsView.as_view(),
        name="account_settings",
    ),
    path("positions/<int:pk>/", views.PositionDetailView.as_view(), name="position_detail"),
    path("models/defaults/", settings_views.FirmSettingsView.as_view(), name="firm_settings"),
    path(
        "models/<int:pk>/impact/",
        impact_views.DefinitionImpactView.as_view(),
        name="definition_impact",
    ),
]

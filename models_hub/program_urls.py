from django.urls import path

from models_hub import program_views as views

app_name = "models"

urlpatterns = [
    path("", views.DefinitionListView.as_view(), name="definition_list"),
    path("classes/", views.AssetClassListView.as_view(), name="asset_classes"),
    path("subscriptions/", views.SubscriptionListView.as_view(), name="subscriptions"),
    path("new/", views.DefinitionCreateView.as_view(), name="definition_create"),
    path("<int:pk>/", views.DefinitionDetailView.as_view(), name="definition_detail"),
    path("<int:pk>/edit/", views.DefinitionEditView.as_view(), name="definition_edit"),
]

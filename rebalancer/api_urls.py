"""``/api/v1/``: the API (reads; the program, customization and bulk-change writes),
its OpenAPI schema and the docs page (Swagger UI, served locally)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import APIRootView, DefaultRouter

from accounts.api import AccountViewSet, HouseholdViewSet, LotViewSet, PositionViewSet
from accounts.bulk_api import BulkChangeViewSet, SavedFilterViewSet
from accounts.settings_api import (
    AccountSettingsViewSet,
    DefinitionImpactView,
    FirmSettingsView,
    HouseholdSettingsViewSet,
)
from models_hub.api import SecurityViewSet
from models_hub.program_api import AssetClassViewSet, DefinitionViewSet, SubscriptionViewSet
from rebalancer.api import IsFirmMember

app_name = "api"


class RootView(APIRootView):
    permission_classes = [IsFirmMember]


class Router(DefaultRouter):
    APIRootView = RootView
    include_format_suffixes = False


router = Router()
router.register("households", HouseholdViewSet)
router.register("accounts", AccountViewSet)
router.register("positions", PositionViewSet)
router.register("lots", LotViewSet, basename="lot")
router.register("securities", SecurityViewSet)
router.register("asset-classes", AssetClassViewSet, basename="asset-class")
router.register("definitions", DefinitionViewSet, basename="definition")
router.register("subscriptions", SubscriptionViewSet, basename="subscription")
router.register("account-settings", AccountSettingsViewSet, basename="account-settings")
router.register("household-settings", HouseholdSettingsViewSet, basename="household-settings")
router.register("saved-filters", SavedFilterViewSet, basename="saved-filter")
router.register("bulk-changes", BulkChangeViewSet, basename="bulk-change")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(permission_classes=[IsFirmMember]), name="schema"),
    path(
        "docs/",
        # The split view serves its start-up script as a file: no inline script (CSP).
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", permission_classes=[IsFirmMember]
        ),
        name="docs",
    ),
    path("definitions/<int:pk>/impact/", DefinitionImpactView.as_view(), name="definition-impact"),
    path("firm-settings/", FirmSettingsView.as_view(), name="firm-settings"),
    *router.urls,
]

"""``/api/v1/``: the read API, its OpenAPI schema and the docs page (Swagger UI, served locally)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import APIRootView, DefaultRouter

from accounts.api import AccountViewSet, HouseholdViewSet, LotViewSet, PositionViewSet
from models_hub.api import SecurityViewSet
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
    *router.urls,
]

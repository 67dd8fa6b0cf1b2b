"""URL routes. Every route must appear in the access matrix (tests/route_matrix.py).

The URL configuration is the one module of the ground floor that names the apps above it (the
import-linter layers contract exempts it).
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from rebalancer import views
from rebalancer.security import api_tokens
from rebalancer.security import login as security_login
from rebalancer.security import views as security_views
from workflow.dashboards import HomeView

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    # Sessions and passwords.
    path("login/", security_login.LoginView.as_view(), name="login"),
    path("2fa/", security_views.TwoFactorVerifyView.as_view(), name="twofactor_verify"),
    path("2fa/setup/", security_views.TwoFactorSetupView.as_view(), name="twofactor_setup"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "welcome/<uidb64>/<token>/",
        views.PasswordSetView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "welcome/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("api-token/", api_tokens.ApiTokenView.as_view(), name="api_token"),
    path(
        "api-token/<int:pk>/revoke/",
        api_tokens.ApiTokenRevokeView.as_view(),
        name="api_token_revoke",
    ),
    # Firm administration.
    path("members/", views.MemberListView.as_view(), name="member_list"),
    path("members/invite/", views.MemberInviteView.as_view(), name="member_invite"),
    path("members/<int:pk>/role/", views.MemberSetRoleView.as_view(), name="member_set_role"),
    path(
        "members/<int:pk>/deactivate/",
        views.MemberDeactivateView.as_view(),
        name="member_deactivate",
    ),
    path("audit/", views.AuditLogView.as_view(), name="audit_log"),
    # Apps.
    path("", include("accounts.urls")),
    path("", include("models_hub.urls")),
    path("models/", include("models_hub.program_urls")),
    path("feeds/", include("workflow.urls")),
    path("runs/", include("workflow.run_urls")),
    path("api/v1/", include("rebalancer.api_urls")),
    path("admin/", admin.site.urls),
]

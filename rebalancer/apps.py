from django.apps import AppConfig


class RebalancerConfig(AppConfig):
    name = "rebalancer"
    verbose_name = "Tenancy core"

    def ready(self) -> None:
        from typing import Any

        from django.contrib.auth.signals import user_logged_in

        def session_start(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
            from rebalancer.middleware import session_start as start

            if request is not None and hasattr(request, "session"):
                start(request, user)

        # Stamps the session lifetimes at login (rebalancer.middleware.SessionLifetimeMiddleware).
        user_logged_in.connect(session_start, dispatch_uid="rebalancer.session_start", weak=False)

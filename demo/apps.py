from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Generators of the demo book and its market data; no models, not part of the domain."""

    name = "demo"
    verbose_name = "Demo book"

"""Rebalancer project: settings, Celery app, URLs and the tenancy core (firms, roles, audit)."""

from rebalancer.celery import app as celery_app

__all__ = ("celery_app",)

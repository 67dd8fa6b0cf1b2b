"""The Celery application.

With ``REDIS_URL`` set, tasks go to Redis and run on Celery workers. Without it (the embedded
default), tasks run eagerly in the calling process: one machine, no services.
Only JSON crosses the broker: tasks take ids and plain values, never model instances or pickles.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rebalancer.settings")

app = Celery("rebalancer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

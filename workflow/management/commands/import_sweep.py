"""``manage.py import_sweep``: what Celery beat runs every minute, by hand or from cron.

In the embedded mode there is no beat; this re-sends queued imports and re-queues or fails
claims that outlived their lease (tasks then run in-process).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from rebalancer.authz import SystemActor
from workflow.feeds.service import import_sweep


class Command(BaseCommand):
    help = "Re-send queued imports and re-queue or fail imports whose worker was lost."

    def handle(self, *args: Any, **options: Any) -> None:
        result = import_sweep(actor=SystemActor.COMMAND)
        self.stdout.write(
            f"re-sent {len(result.resent)}, re-queued {len(result.requeued)}, "
            f"failed {len(result.failed)}"
        )

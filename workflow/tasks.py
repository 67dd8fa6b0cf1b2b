"""Celery tasks of the workflow app. Thin: take ids, call one service."""

from __future__ import annotations

from celery import shared_task

from rebalancer.authz import SystemActor
from workflow.feeds.service import import_run_queued
from workflow.feeds.service import import_sweep as sweep
from workflow.nightly import nightly_kickoff as kickoff
from workflow.nightly import run_sweep as nightly_sweep
from workflow.nightly import run_work_here


@shared_task(name="workflow.import_run", ignore_result=True)
def import_run(record_id: int) -> None:
    """Run a queued import. A duplicate delivery finds the record already claimed and stops."""
    import_run_queued(record_id=record_id)


@shared_task(name="workflow.import_sweep", ignore_result=True)
def import_sweep() -> None:
    """Every minute (Celery beat): re-send queued imports, re-queue or fail lost claims."""
    sweep(actor=SystemActor.SCHEDULER)


@shared_task(name="workflow.run_work", ignore_result=True)
def run_work(run_id: int) -> None:
    """Claim and analyse batches of a run until none is left (workers compete via claims)."""
    run_work_here(run_id=run_id)


@shared_task(name="workflow.run_sweep", ignore_result=True)
def run_sweep() -> None:
    """Every minute (Celery beat): re-queue lost run claims, close finished runs."""
    nightly_sweep(actor=SystemActor.SCHEDULER)


@shared_task(name="workflow.nightly_kickoff", ignore_result=True)
def nightly_kickoff() -> None:
    """Every minute (Celery beat): start each firm's scheduled nightly run once a day."""
    kickoff(actor=SystemActor.SCHEDULER)

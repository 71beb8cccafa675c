"""The scheduled jobs: one declarative table with stable ids, run in their own process.

``brandhub jobs run`` starts a blocking APScheduler with every job (or the ones
named); ``brandhub collect run`` runs the collection cycle in its own loop, at the
same moments. Each job function takes ``settings`` and opens its own sessions,
committing its own work.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from .settings import Settings


@dataclass(frozen=True)
class Job:
    id: str                                # stable: APScheduler's job id and what ``--only`` names
    target: str                            # "module:function", called as function(settings=settings)
    trigger: Callable[[Settings], dict]    # APScheduler trigger arguments from the settings
    description: str = ""

    def function(self) -> Callable[..., None]:
        module, name = self.target.split(":")
        return getattr(import_module(module), name)


JOBS: tuple[Job, ...] = (
    Job("collect-agents", "brand_hub.collection.jobs:collect_all",
        lambda s: {"trigger": "interval", "seconds": s.collect_interval_seconds, "jitter": s.collect_jitter_seconds,
                   "start_date": "1970-01-01T00:00:00+00:00"},   # the same moments on every collector
        "pull every site agent"),
    Job("score-running-month", "brand_hub.scores.jobs:score_running_month",
        lambda s: {"trigger": "cron", "minute": 20},
        "score every site for the month so far"),
    Job("evaluate-flags", "brand_hub.compliance.jobs:evaluate_flags",
        lambda s: {"trigger": "interval", "minutes": 15},
        "evaluate every compliance rule for every site"),
    Job("send-mail", "brand_hub.compliance.jobs:send_outbox",
        lambda s: {"trigger": "interval", "minutes": 1},
        "send the queued notification e-mails"),
    Job("refresh-dashboard", "brand_hub.dashboard.snapshot:refresh_job",
        lambda s: {"trigger": "interval", "minutes": 5},
        "compute the network-wide figures of the HQ brand-health dashboard"),
    Job("refresh-billing-previews", "brand_hub.billing.preview:refresh_job",
        lambda s: {"trigger": "interval", "minutes": 5},
        "compute the billing review and diff pages' default figures again when their inputs changed"),
    Job("renewal-reminders", "brand_hub.renewals.jobs:send_renewal_reminders",
        lambda s: {"trigger": "cron", "hour": 1, "minute": 5},
        "remind HQ of agreements ending without a renewal decision"),
    Job("readings-partitions", "brand_hub.collection.partitions:create_partitions_ahead",
        lambda s: {"trigger": "cron", "hour": 0, "minute": 40},
        "create the readings' monthly partitions ahead (PostgreSQL)"),
    Job("readings-retention", "brand_hub.collection.partitions:apply_retention",
        lambda s: {"trigger": "cron", "hour": 2, "minute": 50},
        "drop the readings older than their retention (whole partitions on PostgreSQL)"),
)


def build_scheduler(settings: Settings, only: tuple[str, ...] = ()):
    """A blocking scheduler with the jobs of the table (all, or those in ``only``)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    unknown = set(only) - {job.id for job in JOBS}
    if unknown:
        raise ValueError(f"unknown job id(s): {', '.join(sorted(unknown))}")
    scheduler = BlockingScheduler(timezone="UTC")
    for job in JOBS:
        if only and job.id not in only:
            continue
        scheduler.add_job(job.function(), id=job.id, name=job.description, kwargs={"settings": settings},
                          max_instances=1, coalesce=True, misfire_grace_time=60, **job.trigger(settings))
    return scheduler

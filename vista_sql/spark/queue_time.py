"""How long a piece of work's Spark stages waited for a free task slot.

A statement's fits run on driver threads beside its CNN stages, and Spark's scheduler gives the
slots to whichever stage came first: the structured-only baseline, started before the first CNN
stage, spends most of its wall time queued behind it. A row's `seconds` should be what the fit
costs, not how long it stood in line, so the wait is measured from Spark's own record: every
job started inside `measured` carries a job tag, and for each of their stages the time from its
submission to its first task's launch is the wait. The stages of one thread's jobs run one after
another, so their waits add up. Over Spark Connect the record is out of sight: the wait reads 0.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager

from vista_sql.spark import remote

_tags = itertools.count()
# How long to let Spark's listeners catch up with the jobs just finished before reading them.
LISTENER_WAIT_SECONDS = 2.0


class Waited:
    """Filled in when `measured` exits: the seconds its stages waited for a slot."""

    seconds = 0.0


@contextmanager
def measured(spark):
    waited = Waited()
    context = remote.jvm_context(spark)
    if context is None:
        yield waited
        return
    tag = f"vista-timed-{next(_tags)}"
    before = _newest_job(context.statusStore())
    spark.sparkContext.addJobTag(tag)
    try:
        yield waited
    finally:
        spark.sparkContext.removeJobTag(tag)
        waited.seconds = _waits(spark, context, tag, before)


def _newest_job(store) -> int:
    jobs = store.jobsList(None).iterator()  # newest first
    return jobs.next().jobId() if jobs.hasNext() else -1


def _waits(spark, context, tag: str, before: int) -> float:
    """The queue waits of the tagged jobs, reading only the jobs started after `before`."""
    remote.drain_listeners(spark, LISTENER_WAIT_SECONDS)
    store = context.statusStore()
    total_ms = 0
    jobs = store.jobsList(None).iterator()
    while jobs.hasNext():
        job = jobs.next()
        if job.jobId() <= before:
            break
        if not _has(job.jobTags(), tag):
            continue
        stages = job.stageIds()
        for i in range(stages.size()):
            for data in _iterate(store.stageData(stages.apply(i), False, None, False, None)):
                submitted, launched = data.submissionTime(), data.firstTaskLaunchedTime()
                if submitted.isDefined() and launched.isDefined():
                    total_ms += max(0, launched.get().getTime() - submitted.get().getTime())
    return total_ms / 1000


def _has(tags, tag: str) -> bool:
    return any(tags.apply(i) == tag for i in range(tags.size()))


def _iterate(sequence):
    items = sequence.iterator()
    while items.hasNext():
        yield items.next()

"""What every statement handler takes and gives back."""

from __future__ import annotations

from dataclasses import dataclass

from vista_sql.plan.binder import Binder


@dataclass(frozen=True)
class Context:
    spark: object
    cnns: dict  # the session's CREATE CNN name → ModelRef; CREATE and DROP CNN change it
    binder: Binder  # for this statement; dispatch.execute drops the views it creates afterwards


@dataclass(frozen=True)
class Outcome:
    frame: object | None  # the statement's result as a Spark DataFrame, or None
    metrics: dict | None = None  # what a TRANSFER measured (VistaSession.last_metrics)

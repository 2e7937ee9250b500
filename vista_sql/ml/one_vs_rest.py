"""One-vs-rest whose predictions the JVM computes.

PySpark's OneVsRestModel scores in Python: a Python UDF per class, one to start the scores and
one for the argmax, each evaluated by a Python worker of its own in every task. Those workers
join the session's pool and stay there (Spark reuses them, and vista_sql/spark/workers.py keeps
the pool alive), so the next CNN stage hands its batches round all of them and each imports
TensorFlow and builds the CNN: one two-class fit on 2 task slots grew the pool from 2 workers to
8. Spark's own OneVsRestModel (Scala) scores the same sub-models in the JVM with the same
rawPrediction (each class's margin) and the same argmax, first index on ties; the fit stays
PySpark's, so only where the scores are computed changes.
"""

from __future__ import annotations

from pyspark.ml import classification
from pyspark.sql import DataFrame

from vista_sql.spark import remote


class OneVsRestModel(classification.OneVsRestModel):
    def _transform(self, dataset: DataFrame) -> DataFrame:
        if remote.is_connect(dataset.sparkSession):  # no JVM in this process to hand it to
            return super()._transform(dataset)
        model = self._to_java()
        model.set("rawPredictionCol", self.getRawPredictionCol())  # _to_java leaves it out
        return DataFrame(model.transform(dataset._jdf), dataset.sparkSession)


class OneVsRest(classification.OneVsRest):
    def _fit(self, dataset: DataFrame) -> OneVsRestModel:
        return scored_in_the_jvm(super()._fit(dataset))


def scored_in_the_jvm(model):
    """`model`, or for PySpark's OneVsRestModel the same model scored by the JVM."""
    if type(model) is not classification.OneVsRestModel:
        return model
    return model._copyValues(OneVsRestModel(model.models))

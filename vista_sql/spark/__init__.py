"""Spark-facing helpers every layer above may use: starting the embedded session and its JVM,
telling classic from Connect sessions, and naming why a Spark job failed."""

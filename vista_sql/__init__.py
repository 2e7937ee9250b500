"""vista_sql: feature transfer from deep CNNs as one declarative statement on Spark."""

from vista_sql.dialect import Vista
from vista_sql.errors import VistaBindError, VistaError, VistaExecutionError, VistaSyntaxError

__all__ = [
    "Vista",
    "VistaError",
    "VistaSyntaxError",
    "VistaBindError",
    "VistaExecutionError",
    "VistaSession",
]


def __getattr__(name: str):
    # VistaSession pulls in pyspark; keep `import vista_sql` light for the dialect alone.
    if name == "VistaSession":
        from vista_sql.session import VistaSession

        return VistaSession
    raise AttributeError(name)

"""vista_sql: feature transfer from deep CNNs as one declarative statement on Spark."""

from vista_sql.dialect import Vista
from vista_sql.errors import (
    VistaBindError,
    VistaError,
    VistaExecutionError,
    VistaPlanningError,
    VistaSyntaxError,
)

__all__ = [
    "Vista",
    "VistaError",
    "VistaSyntaxError",
    "VistaBindError",
    "VistaExecutionError",
    "VistaPlanningError",
    "VistaSession",
]


def __getattr__(name: str):
    # VistaSession pulls in pyspark; keep `import vista_sql` light for the dialect alone.
    if name == "VistaSession":
        from vista_sql.session import VistaSession

        return VistaSession
    raise AttributeError(name)


def load_ipython_extension(ipython) -> None:
    """`%load_ext vista_sql`: the %vista_sql / %%vista_sql magics."""
    from vista_sql.interfaces.jupyter import load_ipython_extension as load

    load(ipython)

"""SQLAlchemy dialect for `vista://` URLs (registered as an entry point in setup.cfg)."""

from vista_sql.sqlalchemy.dialect import VistaDialect

dialect = VistaDialect

__all__ = ["VistaDialect", "dialect"]

"""The statement layer: a script split into statements, and one handler per statement kind."""

from vista_sql.statements.script import Statement, is_complete, split

__all__ = ["Statement", "is_complete", "split"]

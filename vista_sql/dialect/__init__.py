"""The `vista` sqlglot dialect: Spark SQL plus TRANSFER FEATURES.

Defining the class registers it, so after `import vista_sql`,
`sqlglot.parse_one(sql, read="vista")` parses our statements.
"""

from __future__ import annotations

from sqlglot.dialects.spark import Spark

from vista_sql.dialect import nodes
from vista_sql.dialect.generator import VistaGenerator
from vista_sql.dialect.parser import VistaParser
from vista_sql.dialect.tokenizer import VistaTokenizer


class Vista(Spark):
    Tokenizer = VistaTokenizer
    Parser = VistaParser
    Generator = VistaGenerator


__all__ = ["Vista", "nodes"]

"""Benchmark: vista_sql against hand-written peers and the physical limit (make bench)."""

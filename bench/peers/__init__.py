"""The systems vista_sql is compared with; each runs as its own child process."""

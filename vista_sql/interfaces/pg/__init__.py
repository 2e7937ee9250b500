"""The PostgreSQL wire-protocol endpoint (`vista-sql serve --pg-port N`), built on pg-mimic."""

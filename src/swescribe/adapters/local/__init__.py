"""The local shape: SQLite (WAL) for jobs, keys and queues, a directory for objects."""

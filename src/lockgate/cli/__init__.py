"""The `lockgate` command line: serve, migrate, admin."""

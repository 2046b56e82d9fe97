"""Use cases of live operations shared by the screens and the API: each checks permission and scope,
writes through :mod:`datasources.ingest` and records the audit log."""

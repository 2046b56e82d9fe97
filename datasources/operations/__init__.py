"""Use cases shared by the screens and the API: each checks permission and scope, writes through the
Writer and records the audit log."""

"""Who may do what, and on which areas: roles and permissions, accounts and API tokens, the audit log.

Pure rules live in ``roles``; ``accounts`` and ``audit`` store users, tokens and the log in the
database. These are not city data, so they are written here rather than through ``datasources.ingest``.
"""

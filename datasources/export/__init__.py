"""Exports of what the analyst sees: rows streamed from the database into CSV and XLSX files, a panel's
figure rendered to PNG/SVG on the server, and the "export what I see" ZIP with its manifest.

Nothing here knows about Flask: the routes in ``callbacks/export.py`` check permission and scope, and
hand these writers a panel's already scoped ``Select``."""

"""Imports of the files cities really have: boundaries (GeoJSON, zipped Shapefile, GeoPackage), indicator
values (CSV/XLSX, long or wide) and case exports (CSV/XLSX with a column mapping). Each reads and checks
the whole file first (an :class:`ImportFailed` names file, row or feature, and column for every problem),
then writes through the write layer in one transaction with one audit-log row."""

from datasources.importers.common import ImportFailed, ImportSummary, Issue

__all__ = ["ImportFailed", "ImportSummary", "Issue"]

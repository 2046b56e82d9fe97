"""Analyst workbench: filters, panels (queries and figures) and the paged records table."""

"""Pure functions that return Dash components: no database, no app object."""

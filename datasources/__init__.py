"""Data layer: the only code that talks to databases and files. Never imports dash."""

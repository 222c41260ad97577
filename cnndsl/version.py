"""cnndsl's version: read by pyproject.toml, shown by `cnndsl --version`, recorded in each run."""

__version__ = "0.1.0"

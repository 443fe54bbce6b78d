"""Evidence base for English councils' sufficiency planning for children in care."""

__version__ = "0.1.0"

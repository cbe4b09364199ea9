"""wpfarm: the operations console of a high-availability WordPress farm."""

__version__ = "0.1.0"

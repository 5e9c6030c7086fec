"""hwnas: hardware-aware neural architecture search and hardware co-design."""

__version__ = "0.1.0"

"""The kilo-tui gateway: a headless BYOK proxy that records what every request cost."""

__version__ = "0.1.0"

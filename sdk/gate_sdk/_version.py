"""The SDK's version: one place, read by packaging and by the User-Agent."""

__version__ = "0.2.0"

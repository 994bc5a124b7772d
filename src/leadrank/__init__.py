"""leadrank: self-hosted lead scoring and prioritization."""

__version__ = "0.1.0"

"""fleet-provider: Kibana Fleet enrollment API keys as Pulumi resources."""

__version__ = "0.1.0"

__all__ = ["__version__"]

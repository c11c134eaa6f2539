"""CLI-free Pulumi engine harness that drives the real dynamic-provider host over gRPC."""

"""Test suite of fleet-provider."""

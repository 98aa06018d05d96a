"""Architectures, one folder each."""

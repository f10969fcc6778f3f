"""Adapters: one module per technology, each implementing ports from swescribe.core."""

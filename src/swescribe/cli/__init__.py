"""The `swescribe` command line."""

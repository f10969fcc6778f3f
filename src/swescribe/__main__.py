"""`python -m swescribe` is the `swescribe` command."""

from swescribe.cli.main import main

main()

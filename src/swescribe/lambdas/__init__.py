"""AWS Lambda entry points. The files at the seed's paths (lambda/*.py) import these.

Each handler builds its adapters once per Lambda container (on the first invocation,
not at import) and calls the same service functions the local shape calls.
"""

"""swescribe: fast, trustworthy Swedish speech-to-text, locally or on AWS."""

__version__ = "0.1.0"

"""The transcript formats a job can ask for, and how each is served.

Kept apart from the writers (swescribe.engine) so the API and the Lambdas can name
formats without importing the model stack.
"""

FORMATS: tuple[str, ...] = ("txt", "json", "srt", "vtt")
MEDIA_TYPES = {
    "txt": "text/plain; charset=utf-8",
    "json": "application/json",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}

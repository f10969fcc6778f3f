"""TranscriptionProcessUpload Lambda (the seed's lambda/lambda_process_upload.py).

S3 upload events (through SQS, or directly) -> the job is marked launching, queued, and a
GPU worker is launched when the running ones cannot absorb the queue. It also makes the
webhook deliveries queued on the webhook queue, one attempt per message.
"""

from swescribe.lambdas.process_upload import handler

__all__ = ["handler"]

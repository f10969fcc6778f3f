#!/usr/bin/env python3
"""GPU transcription worker (the seed's run_transcription/fast_transcribe.py).

Started at boot by the instance's UserData, which exports the job (SWESCRIBE_JOB_ID,
SWESCRIBE_S3_INPUT, SWESCRIBE_S3_OUTPUT, as in the seed) and the deployment's queue,
table and bucket. The work itself is in the swescribe package (installed from its wheel,
so a code change needs no new AMI): swescribe.ec2_worker.
"""

from swescribe.ec2_worker import main

if __name__ == "__main__":
    raise SystemExit(main())

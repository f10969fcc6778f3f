"""A peer as a user would run it: one process that loads faster-whisper and transcribes.

    python bench/fw_process.py MODEL_DIR AUDIO OUT.json [--pipeline batched|plain]

batched: ``BatchedInferencePipeline`` with batch 8 and its defaults; plain:
``WhisperModel.transcribe`` with beam 5 at temperature 0. Writes the text and the
segments' start and end as JSON, in the shape of swescribe's JSON transcript.
bench/whole_process.py times this script against ``swescribe transcribe``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model_dir")
    parser.add_argument("audio")
    parser.add_argument("out", type=Path)
    parser.add_argument("--pipeline", choices=("batched", "plain"), default="batched")
    parser.add_argument("--language", default="sv")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("--cpu-threads", type=int, default=0)
    args = parser.parse_args()

    from faster_whisper import BatchedInferencePipeline, WhisperModel

    model = WhisperModel(
        args.model_dir,
        device=args.device,
        compute_type=args.compute_type,
        cpu_threads=args.cpu_threads,
    )
    if args.pipeline == "batched":
        segments, _ = BatchedInferencePipeline(model).transcribe(
            args.audio, language=args.language, batch_size=8
        )
    else:
        segments, _ = model.transcribe(
            args.audio, language=args.language, beam_size=5, temperature=0.0
        )
    listed = list(segments)
    args.out.write_text(
        json.dumps(
            {
                "text": " ".join(s.text.strip() for s in listed),
                "segments": [{"start": s.start, "end": s.end} for s in listed],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

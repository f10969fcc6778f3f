"""Known speakers: how well an enrolled voice is found in a built conversation.

    python bench/known_speakers.py [--json out.json]

Every voice of conversations.ENROLMENTS is enrolled (engine.diarization.known) from
audio the conversations do not contain; each conversation of KNOWN_TALKS is diarized
by the offline model (the number of speakers given, so that the scores measure the
voiceprints, not the count), and every speaker's mean embedding is scored against
every voiceprint. A true pair: the reference speaker the diarized speaker mostly is,
enrolled. Reported: the true scores, the highest impostor score, and what a threshold
would give (true matches found, false names given). docs/performance.md, "Known speakers".
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from conversations import ENROLMENTS, KNOWN_TALKS, build_conversation, enrolment_audio, read_wav
from swescribe.config import Settings
from swescribe.core.transcript import SpeakerTurn
from swescribe.engine.diarization.embedding import EmbeddingSession
from swescribe.engine.diarization.ge2e import VoiceEncoder, resemblyzer_weights
from swescribe.engine.diarization.known import (
    MATCH_THRESHOLD,
    enrolment_vector,
    speaker_centroids,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
AUDIO_DIR = REPO_ROOT / ".." / "shared" / "audio" / "sv"


def majority(turns: list[SpeakerTurn], reference: list[SpeakerTurn]) -> dict[str, str]:
    """Each found speaker's reference speaker (the one it shares most time with)."""
    shared: dict[str, dict[str, float]] = {}
    for found in turns:
        for ref in reference:
            overlap = min(found.end, ref.end) - max(found.start, ref.start)
            if overlap > 0:
                row = shared.setdefault(found.speaker, {})
                row[ref.speaker] = row.get(ref.speaker, 0.0) + overlap
    return {s: max(row, key=lambda r: row[r]) for s, row in shared.items()}


def clone(pair: dict[str, Any]) -> bool:
    """Another variant of the espeak-ng voice that the talk's voices are variants of: the
    same synthesizer with other pitch and formant settings, not another person. Reported
    apart: the encoder tells them apart no better than takes of one voice."""
    return pair["talk"] == "talk_espeak" and str(pair["voice"]).startswith("sv")


def measure() -> dict[str, Any]:
    encoder = VoiceEncoder.from_checkpoint(
        resemblyzer_weights(Settings.from_env().speaker_model_dirs)
    )
    prints = {
        name: enrolment_vector(encoder, enrolment_audio(AUDIO_DIR, says))[0]
        for name, says in ENROLMENTS.items()
    }
    pairs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        for talk, says in KNOWN_TALKS.items():
            wav = Path(folder) / f"{talk}.wav"
            reference = [
                SpeakerTurn(t.start, t.end, t.speaker)
                for t in build_conversation(AUDIO_DIR, says, wav)
            ]
            session = EmbeddingSession(encoder)
            session.add(0.0, read_wav(wav).astype(np.float32))
            from swescribe.engine.diarization.clustering import SpeakerCount

            turns = session.finish(SpeakerCount(exact=len({t.speaker for t in reference})))
            who = majority(turns, reference)
            centroids = speaker_centroids(turns, session.spans(), session.embeddings())
            for speaker, centre in centroids.items():
                for name, vector in prints.items():
                    pairs.append(
                        {
                            "talk": talk,
                            "speaker": who.get(speaker, "?"),
                            "voice": name,
                            "score": round(float(centre @ vector), 4),
                            "true": who.get(speaker) == name,
                        }
                    )
    true = [p["score"] for p in pairs if p["true"]]
    false = [p["score"] for p in pairs if not p["true"] and not clone(p)]
    clones = [p["score"] for p in pairs if clone(p)]
    return {
        "threshold": MATCH_THRESHOLD,
        "true_scores": sorted(true),
        "highest_false": max(false),
        "highest_espeak_variant": max(clones),
        "espeak_variants_at_threshold": int(sum(s >= MATCH_THRESHOLD for s in clones)),
        "false_pairs": len(false),
        "found_at_threshold": int(sum(s >= MATCH_THRESHOLD for s in true)),
        "false_at_threshold": int(sum(s >= MATCH_THRESHOLD for s in false)),
        "sweep": {
            f"{t:.2f}": {
                "true_found": int(sum(s >= t for s in true)),
                "false_names": int(sum(s >= t for s in false)),
            }
            for t in np.arange(0.60, 0.95, 0.05)
        },
        "pairs": pairs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = measure()
    summary = {k: v for k, v in result.items() if k != "pairs"}
    print(json.dumps(summary, indent=1))
    top = sorted((p for p in result["pairs"] if not p["true"]), key=lambda p: -p["score"])[:6]
    print("highest impostor pairs:", json.dumps(top), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

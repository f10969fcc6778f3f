"""Writes ge2e_reference.json: Resemblyzer 0.1.4 on torch, the numpy port's reference.

Run once in a scratch environment with torch and Resemblyzer (never needed by CI):

    python -m venv /tmp/rz && /tmp/rz/bin/pip install torch librosa webrtcvad-wheels
    /tmp/rz/bin/pip install --no-deps resemblyzer==0.1.4
    /tmp/rz/bin/python tests/data/make_ge2e_reference.py tests/data/ge2e_reference.json
"""

from __future__ import annotations

import json
import sys
import wave
from pathlib import Path

import numpy as np
import torch
from resemblyzer import VoiceEncoder
from resemblyzer.audio import wav_to_mel_spectrogram

CLIP = Path(__file__).resolve().parents[2] / ".." / "shared" / "audio" / "sv" / "cv_18711295.wav"
STARTS = [0, 120, 240]


def main(target: Path) -> None:
    with wave.open(str(CLIP)) as source:
        data = np.frombuffer(source.readframes(source.getnframes()), np.int16)
    wav = data.astype(np.float32) / 32768
    rms = np.sqrt(np.mean((wav * 32767) ** 2))
    change = -30 - 20 * np.log10(rms / 32767)
    wav = (wav * 10 ** (change / 20)).astype(np.float32) if change > 0 else wav
    encoder = VoiceEncoder(device="cpu", verbose=False)
    utterance = encoder.embed_utterance(wav)
    mel = wav_to_mel_spectrogram(wav)
    with torch.no_grad():
        partials = encoder(torch.from_numpy(np.stack([mel[s : s + 160] for s in STARTS]))).numpy()
    result = {
        "about": (
            f"Resemblyzer 0.1.4 VoiceEncoder (torch {torch.__version__}, CPU) on "
            "../shared/audio/sv/cv_18711295.wav: samples / 32768, raised to -30 dBFS as "
            "resemblyzer.audio.normalize_volume does; tests/data/make_ge2e_reference.py"
        ),
        "clip": "cv_18711295",
        "mel_frames": int(mel.shape[0]),
        "mel_sum": float(mel.astype(np.float64).sum()),
        "utterance": [round(float(v), 6) for v in utterance],
        "partial_starts": STARTS,
        "partials": [[round(float(v), 6) for v in p] for p in partials],
    }
    target.write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]))

"""Resemblyzer's GE2E speaker encoder in numpy: the same weights, no torch.

The network (Resemblyzer 0.1.4, `voice_encoder.py`): 40-channel mel power spectrogram
(25 ms Hann windows every 10 ms, not log), a 3-layer LSTM of 256 units, a 256x256
linear layer, ReLU, L2 norm: one 256-dimensional embedding per 1.6 s "partial" (160
frames), read from the last layer's final hidden state. Its weights are the
`pretrained.pt` of the Resemblyzer wheel (Apache-2.0; `weights.py` finds or fetches it), read by
`_torch_pickle` without importing torch or Resemblyzer (whose `__init__` imports torch).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from swescribe.core.errors import ModelUnavailable
from swescribe.engine.audio import SAMPLE_RATE
from swescribe.engine.diarization._torch_pickle import CheckpointError, load_tensors
from swescribe.engine.diarization.weights import INSTALL_HINT as INSTALL_HINT
from swescribe.engine.diarization.weights import RESEMBLYZER_VERSION as RESEMBLYZER_VERSION
from swescribe.engine.diarization.weights import resemblyzer_weights as resemblyzer_weights

N_FFT = 400
"""25 ms windows."""
HOP = 160
"""10 ms between frames: 100 frames a second."""
N_MELS = 40
PARTIAL_FRAMES = 160
"""1.6 s: the length the encoder was trained on."""
HIDDEN = 256
LAYERS = 3
NORM_TARGET_DBFS = -30.0
"""Resemblyzer raises quiet audio to this level (never lowers loud audio)."""


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, log above."""
    f_sp = 200.0 / 3
    mels = hz / f_sp
    min_log_mel = 1000.0 / f_sp
    logstep = np.log(6.4) / 27.0
    log_part = min_log_mel + np.log(np.maximum(hz, 1e-10) / 1000.0) / logstep
    return np.where(hz >= 1000.0, log_part, mels)


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    f_sp = 200.0 / 3
    min_log_mel = 1000.0 / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(
        mels >= min_log_mel, 1000.0 * np.exp(logstep * (mels - min_log_mel)), f_sp * mels
    )


@lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40) (Slaney scale and area
    normalisation), shape (40, 201)."""
    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_points = _mel_to_hz(
        np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(SAMPLE_RATE / 2)), N_MELS + 2)
    )
    widths = np.diff(mel_points)
    ramps = np.subtract.outer(mel_points, fft_freqs)
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_points[2:] - mel_points[:-2]))[:, None]
    filters: np.ndarray = weights.astype(np.float32)
    return filters


@lru_cache(maxsize=1)
def _hann() -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def mel_spectrogram(wav: np.ndarray) -> np.ndarray:
    """(frames, 40) mel power spectrogram, frames = 1 + len(wav) // 160, as Resemblyzer's
    `wav_to_mel_spectrogram` computes it with librosa (centred frames, zero padding)."""
    padded = np.pad(wav.astype(np.float32, copy=False), N_FFT // 2)
    frames = 1 + (padded.size - N_FFT) // HOP
    windows = np.lib.stride_tricks.as_strided(
        padded, shape=(frames, N_FFT), strides=(padded.strides[0] * HOP, padded.strides[0])
    )
    spectrum = np.fft.rfft(windows * _hann(), axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    mel: np.ndarray = power @ mel_filterbank().T
    return mel


def normalize_volume(wav: np.ndarray) -> np.ndarray:
    """Raise quiet audio to -30 dBFS, as Resemblyzer's preprocessing does."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if wav.size else 0.0
    if rms <= 1e-9:
        return wav
    change = NORM_TARGET_DBFS - 20 * np.log10(rms)
    return wav if change < 0 else (wav * (10 ** (change / 20))).astype(np.float32)


class VoiceEncoder:
    """The encoder's forward pass, batched over partials: float32 numpy, a few big
    matrix products per layer and one small one per frame."""

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        # sigmoid(x) = (1 + tanh(x / 2)) / 2: scaling the input, forget and output gate
        # rows by 1/2 lets one tanh serve all four gates of a step.
        scale = np.ones(4 * HIDDEN, dtype=np.float32)
        scale[: 2 * HIDDEN] = 0.5
        scale[3 * HIDDEN :] = 0.5
        self._layers: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for layer in range(LAYERS):
            w_ih = state[f"lstm.weight_ih_l{layer}"] * scale[:, None]
            w_hh = state[f"lstm.weight_hh_l{layer}"] * scale[:, None]
            bias = (state[f"lstm.bias_ih_l{layer}"] + state[f"lstm.bias_hh_l{layer}"]) * scale
            self._layers.append(
                (
                    np.ascontiguousarray(w_ih.T, dtype=np.float32),
                    np.ascontiguousarray(w_hh.T, dtype=np.float32),
                    bias.astype(np.float32),
                )
            )
        self._linear_w = np.ascontiguousarray(state["linear.weight"].T, dtype=np.float32)
        self._linear_b = state["linear.bias"].astype(np.float32)

    @classmethod
    def from_checkpoint(cls, path: Path) -> VoiceEncoder:
        try:
            checkpoint = load_tensors(path)
            return cls(dict(checkpoint["model_state"]))
        except (OSError, CheckpointError, KeyError, TypeError) as error:
            raise ModelUnavailable(f"could not read the speaker model {path}: {error}") from error

    def embed_partials(self, mels: np.ndarray) -> np.ndarray:
        """(batch, frames, 40) mel partials -> (batch, 256) L2-normed embeddings."""
        batch, frames, _ = mels.shape
        inputs = np.ascontiguousarray(mels.transpose(1, 0, 2), dtype=np.float32)
        hidden = np.zeros((batch, HIDDEN), dtype=np.float32)
        for number, (w_ih, w_hh, bias) in enumerate(self._layers):
            gates_in = inputs.reshape(frames * batch, -1) @ w_ih
            gates_in += bias
            gates_in = gates_in.reshape(frames, batch, 4 * HIDDEN)
            last = number == LAYERS - 1
            outputs = None if last else np.empty((frames, batch, HIDDEN), dtype=np.float32)
            hidden = np.zeros((batch, HIDDEN), dtype=np.float32)
            cell = np.zeros((batch, HIDDEN), dtype=np.float32)
            gates = np.empty((batch, 4 * HIDDEN), dtype=np.float32)
            for t in range(frames):
                np.matmul(hidden, w_hh, out=gates)
                gates += gates_in[t]
                np.tanh(gates, out=gates)
                sig_i = gates[:, :HIDDEN] * 0.5 + 0.5
                sig_f = gates[:, HIDDEN : 2 * HIDDEN] * 0.5 + 0.5
                sig_o = gates[:, 3 * HIDDEN :] * 0.5 + 0.5
                cell *= sig_f
                cell += sig_i * gates[:, 2 * HIDDEN : 3 * HIDDEN]
                hidden = sig_o * np.tanh(cell)
                if outputs is not None:
                    outputs[t] = hidden
            if outputs is not None:
                inputs = outputs
        embeds = np.maximum(hidden @ self._linear_w + self._linear_b, 0)
        norms = np.linalg.norm(embeds, axis=1, keepdims=True)
        normed: np.ndarray = (embeds / np.maximum(norms, 1e-12)).astype(np.float32)
        return normed

    def embed_utterance(
        self, wav: np.ndarray, rate: float = 1.3, min_coverage: float = 0.75
    ) -> np.ndarray:
        """Resemblyzer's `embed_utterance` (the mean of partial embeddings, L2-normed) on
        already preprocessed audio: what the parity test compares with torch."""
        frame_step = round((SAMPLE_RATE / rate) / HOP)
        n_frames = int(np.ceil((wav.size + 1) / HOP))
        steps = max(1, n_frames - PARTIAL_FRAMES + frame_step + 1)
        starts = list(range(0, steps, frame_step))
        last_start = starts[-1] * HOP
        coverage = (wav.size - last_start) / (PARTIAL_FRAMES * HOP)
        if coverage < min_coverage and len(starts) > 1:
            starts = starts[:-1]
        needed = (starts[-1] + PARTIAL_FRAMES) * HOP
        if needed >= wav.size:
            wav = np.pad(wav, (0, needed - wav.size))
        mel = mel_spectrogram(wav)
        partials = np.stack([mel[s : s + PARTIAL_FRAMES] for s in starts])
        mean = self.embed_partials(partials).mean(axis=0)
        embedding: np.ndarray = (mean / np.linalg.norm(mean)).astype(np.float32)
        return embedding

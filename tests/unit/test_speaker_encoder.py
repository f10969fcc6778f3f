"""The offline speaker model: Resemblyzer's GE2E encoder run in numpy, its weights read
(fetched by `swescribe models fetch speakers`, or from an installed package) without
torch, equal to Resemblyzer on torch.

The reference vectors (tests/data/ge2e_reference.json) were computed with Resemblyzer
0.1.4 on torch (tests/data/make_ge2e_reference.py); a live comparison runs as well
wherever torch and Resemblyzer's own dependencies are installed.
"""

from __future__ import annotations

import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from swescribe.core.errors import ModelUnavailable
from swescribe.engine.diarization import ge2e
from swescribe.engine.diarization._torch_pickle import CheckpointError, load_tensors
from tests.conftest import audio, speaker_model_dirs

REFERENCE = json.loads((Path(__file__).parents[1] / "data" / "ge2e_reference.json").read_text())
TOLERANCE = 1e-4
"""Largest difference in any component (measured: 5e-7; float32 sums in another order)."""


@pytest.fixture(scope="module")
def encoder() -> ge2e.VoiceEncoder:
    return ge2e.VoiceEncoder.from_checkpoint(ge2e.resemblyzer_weights(speaker_model_dirs()))


def reference_wav() -> np.ndarray:
    import wave

    with wave.open(str(audio(f"{REFERENCE['clip']}.wav"))) as source:
        data = np.frombuffer(source.readframes(source.getnframes()), dtype=np.int16)
    return ge2e.normalize_volume(data.astype(np.float32) / 32768)


def test_the_weights_are_read_from_the_installed_package_without_importing_torch() -> None:
    import subprocess
    import sys

    path = ge2e.resemblyzer_weights(speaker_model_dirs())
    assert path.name == "pretrained.pt"
    check = (
        "import sys\n"
        "from swescribe.engine.diarization import ge2e\n"
        "from tests.conftest import speaker_model_dirs\n"
        "ge2e.VoiceEncoder.from_checkpoint(ge2e.resemblyzer_weights(speaker_model_dirs()))\n"
        "assert 'torch' not in sys.modules and 'resemblyzer' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", check], check=True, timeout=120)
    state = load_tensors(path)["model_state"]
    assert state["lstm.weight_ih_l0"].shape == (1024, 40)
    assert state["lstm.weight_hh_l2"].shape == (1024, 256)
    assert state["linear.weight"].dtype == np.float32


def test_the_numpy_encoder_equals_resemblyzer_on_torch(encoder: ge2e.VoiceEncoder) -> None:
    wav = reference_wav()
    mel = ge2e.mel_spectrogram(wav)
    assert mel.shape == (REFERENCE["mel_frames"], 40)
    assert float(mel.astype(np.float64).sum()) == pytest.approx(REFERENCE["mel_sum"], rel=1e-5)
    utterance = encoder.embed_utterance(wav)
    assert np.abs(utterance - np.array(REFERENCE["utterance"])).max() < TOLERANCE
    starts = REFERENCE["partial_starts"]
    partials = encoder.embed_partials(np.stack([mel[s : s + 160] for s in starts]))
    assert np.abs(partials - np.array(REFERENCE["partials"])).max() < TOLERANCE
    assert np.allclose(np.linalg.norm(partials, axis=1), 1.0, atol=1e-5)


def test_the_numpy_encoder_equals_a_live_torch_resemblyzer(encoder: ge2e.VoiceEncoder) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("librosa")
    pytest.importorskip("webrtcvad")
    from resemblyzer import VoiceEncoder as TorchEncoder
    from resemblyzer.audio import wav_to_mel_spectrogram

    wav = reference_wav()
    assert np.abs(wav_to_mel_spectrogram(wav) - ge2e.mel_spectrogram(wav)).max() < 1e-4
    rng = np.random.default_rng(7)
    mels = (rng.random((5, 160, 40)) * 4).astype(np.float32)
    with torch.no_grad():
        expected = TorchEncoder(device="cpu", verbose=False)(torch.from_numpy(mels)).numpy()
    assert np.abs(encoder.embed_partials(mels) - expected).max() < TOLERANCE


def _pickled_tensor(body: io.BytesIO, monkeypatch: pytest.MonkeyPatch, rebuild: object) -> None:
    """Pickles {"w": tensor} as torch does: a reduce to `rebuild` over a persistent
    storage reference to torch.FloatStorage "k" of 3 elements (stand-in torch modules)."""
    fake_torch = types.ModuleType("torch")
    fake_utils = types.ModuleType("torch._utils")
    float_storage = type("FloatStorage", (), {"__module__": "torch"})
    fake_torch.FloatStorage = float_storage  # type: ignore[attr-defined]
    fake_utils._rebuild_tensor_v2 = rebuild  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    monkeypatch.setitem(sys.modules, "torch._utils", fake_utils)

    class StorageRef:
        pass

    class Tensor:
        def __reduce__(self) -> tuple[object, ...]:
            return (rebuild, (StorageRef(), 0, (3,), (1,), False, collections.OrderedDict()))

    pickler = pickle.Pickler(body, protocol=2)
    pickler.persistent_id = lambda obj: (  # type: ignore[method-assign]
        ("storage", float_storage, "k", "cpu", 3, None) if isinstance(obj, StorageRef) else None
    )
    pickler.dump({"w": Tensor()})


def _rebuild_tensor_v2(*args: object) -> None:
    raise AssertionError("never called")


_rebuild_tensor_v2.__module__ = "torch._utils"


def _legacy_checkpoint(
    monkeypatch: pytest.MonkeyPatch, rebuild: object = _rebuild_tensor_v2
) -> bytes:
    """A torch legacy-format file: one float tensor [1, 2, 3]."""
    body = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
        pickle.dump(header, body, protocol=2)
    _pickled_tensor(body, monkeypatch, rebuild)
    pickle.dump(["k"], body, protocol=2)
    body.write(struct.pack("<q", 3) + np.array([1, 2, 3], dtype=np.float32).tobytes())
    return body.getvalue()


def test_a_legacy_checkpoint_is_read_as_numpy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tiny.pt"
    path.write_bytes(_legacy_checkpoint(monkeypatch))
    assert load_tensors(path)["w"].tolist() == [1.0, 2.0, 3.0]


def test_a_checkpoint_naming_any_other_code_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "evil.pt"
    path.write_bytes(_legacy_checkpoint(monkeypatch, os.system))
    with pytest.raises(CheckpointError, match="not allowed"):
        load_tensors(path)
    with pytest.raises(ModelUnavailable, match="could not read the speaker model"):
        ge2e.VoiceEncoder.from_checkpoint(path)


def test_a_zip_checkpoint_is_read_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = io.BytesIO()
    _pickled_tensor(body, monkeypatch, _rebuild_tensor_v2)
    path = tmp_path / "new.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", body.getvalue())
        archive.writestr("archive/data/k", np.array([4, 5, 6], dtype=np.float32).tobytes())
    assert load_tensors(path)["w"].tolist() == [4.0, 5.0, 6.0]


def test_the_mel_filterbank_is_slaneys_and_covers_the_band() -> None:
    bank = ge2e.mel_filterbank()
    assert bank.shape == (40, 201)
    assert (bank >= 0).all()
    peaks = bank.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all(), "filters rise in frequency"
    # Slaney's area normalisation: each triangle has area 2 / width in Hz.
    hz_per_bin = 8000 / 200
    assert bank[20].sum() * hz_per_bin == pytest.approx(1.0, rel=0.1)

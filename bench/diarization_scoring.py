"""Diarization error rate (DER) and speaker-attributed time, as NIST md-eval and
pyannote.metrics define them, on a 10 ms grid (tests check it against pyannote.metrics).

DER = (missed speech + false alarm + speaker confusion) / reference speech, with the
reference and hypothesis speakers mapped one to one so that they agree the most;
overlapping reference speech counts once per speaker. `collar` is pyannote's: that many
seconds in all, half each side of every reference boundary, are not scored.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from swescribe.core.transcript import SpeakerTurn

RESOLUTION = 0.01


@dataclass(frozen=True)
class DiarizationScore:
    reference: float
    """Seconds of reference speech scored (overlap counted once per speaker)."""
    missed: float
    false_alarm: float
    confusion: float
    mapping: dict[str, str]
    """Reference speaker -> the hypothesis speaker mapped to it."""
    attributed: dict[str, float]
    """Per reference speaker: the share of their speech given to their mapped speaker."""

    @property
    def der(self) -> float:
        if self.reference == 0:
            return 0.0
        return (self.missed + self.false_alarm + self.confusion) / self.reference

    def to_dict(self) -> dict[str, object]:
        return {
            "der": round(self.der, 4),
            "reference": round(self.reference, 3),
            "missed": round(self.missed, 3),
            "false_alarm": round(self.false_alarm, 3),
            "confusion": round(self.confusion, 3),
            "mapping": dict(self.mapping),
            "attributed": {k: round(v, 4) for k, v in self.attributed.items()},
        }


def _grid(turns: Sequence[SpeakerTurn], speakers: list[str], frames: int) -> np.ndarray:
    grid = np.zeros((len(speakers), frames), dtype=bool)
    for turn in turns:
        first = round(turn.start / RESOLUTION)
        last = round(turn.end / RESOLUTION)
        grid[speakers.index(turn.speaker), max(0, first) : max(0, last)] = True
    return grid


def _best_mapping(overlap: np.ndarray) -> list[tuple[int, int]]:
    """Reference/hypothesis index pairs with the largest total overlap (exact for up to
    8 speakers a side; greedy beyond)."""
    refs, hyps = overlap.shape
    if refs == 0 or hyps == 0:
        return []
    if min(refs, hyps) <= 8 and max(refs, hyps) <= 8:
        best: tuple[float, list[tuple[int, int]]] = (-1.0, [])
        if refs <= hyps:
            for chosen in itertools.permutations(range(hyps), refs):
                pairs = list(zip(range(refs), chosen, strict=True))
                total = float(sum(overlap[r, h] for r, h in pairs))
                if total > best[0]:
                    best = (total, pairs)
        else:
            for chosen in itertools.permutations(range(refs), hyps):
                pairs = list(zip(chosen, range(hyps), strict=True))
                total = float(sum(overlap[r, h] for r, h in pairs))
                if total > best[0]:
                    best = (total, pairs)
        return best[1]
    greedy: list[tuple[int, int]] = []
    left = overlap.astype(float).copy()
    for _ in range(min(refs, hyps)):
        r, h = np.unravel_index(int(left.argmax()), left.shape)
        greedy.append((int(r), int(h)))
        left[r, :] = -1
        left[:, h] = -1
    return greedy


def score(
    reference: Sequence[SpeakerTurn], hypothesis: Sequence[SpeakerTurn], collar: float = 0.0
) -> DiarizationScore:
    end = max((t.end for t in (*reference, *hypothesis)), default=0.0)
    frames = round(end / RESOLUTION) + 1
    ref_names = sorted({t.speaker for t in reference})
    hyp_names = sorted({t.speaker for t in hypothesis})
    ref = _grid(reference, ref_names, frames)
    hyp = _grid(hypothesis, hyp_names, frames)
    scored = np.ones(frames, dtype=bool)
    half = round(collar / 2 / RESOLUTION)
    if half:
        for turn in reference:
            for boundary in (turn.start, turn.end):
                at = round(boundary / RESOLUTION)
                scored[max(0, at - half) : max(0, at + half)] = False
    ref = ref & scored
    hyp = hyp & scored
    overlap = ref.astype(np.int64) @ hyp.T.astype(np.int64)
    pairs = _best_mapping(overlap)
    n_ref = ref.sum(axis=0)
    n_hyp = hyp.sum(axis=0)
    correct = np.zeros(frames, dtype=np.int64)
    for r, h in pairs:
        correct += ref[r] & hyp[h]
    missed = np.maximum(n_ref - n_hyp, 0).sum()
    false_alarm = np.maximum(n_hyp - n_ref, 0).sum()
    confusion = (np.minimum(n_ref, n_hyp) - correct).sum()
    mapping = {ref_names[r]: hyp_names[h] for r, h in pairs}
    spoken = ref.sum(axis=1)
    attributed = {
        name: (
            float(overlap[r, hyp_names.index(mapping[name])]) / spoken[r]
            if name in mapping
            else 0.0
        )
        if spoken[r]
        else 0.0
        for r, name in enumerate(ref_names)
    }
    return DiarizationScore(
        reference=float(n_ref.sum()) * RESOLUTION,
        missed=float(missed) * RESOLUTION,
        false_alarm=float(false_alarm) * RESOLUTION,
        confusion=float(confusion) * RESOLUTION,
        mapping=mapping,
        attributed=attributed,
    )

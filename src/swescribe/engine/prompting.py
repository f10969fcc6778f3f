"""Prompt budgeting: how much of an initial prompt fits beside the hotwords."""

from __future__ import annotations

from typing import Any


def vocabulary_prompt(model: Any, initial_prompt: str | None, hotwords: str | None) -> list[int]:
    """The initial prompt's tokens that fit beside the hotwords in Whisper's context.

    The decoder's prompt (hotwords, then previous text) gets half of the model's 448
    positions; faster-whisper cuts each of the two to that half on its own, so both at
    full length would leave no room to write. The prompt keeps its last tokens (the ones
    nearest the audio), as Whisper does with previous text."""
    if not initial_prompt or not initial_prompt.strip():
        return []

    def encode(text: str) -> list[int]:
        return list(model.hf_tokenizer.encode(" " + text.strip(), add_special_tokens=False).ids)

    budget = model.max_length // 2 - 1
    if hotwords and hotwords.strip():
        budget -= min(len(encode(hotwords)), budget // 2)
    return encode(initial_prompt)[-budget:]

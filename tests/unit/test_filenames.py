"""Client-given file names become one safe, bounded path segment."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swescribe.core.filenames import MAX_NAME_BYTES, safe_filename


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("/abs/path.wav", "path.wav"),
        ("C:\\x\\y.mp3", "y.mp3"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("uploads/../../secret.m4a", "secret.m4a"),
    ],
)
def test_path_parts_are_dropped_leaving_the_base_name(given_name: str, expected: str) -> None:
    assert safe_filename(given_name) == expected


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("inter\x00view.wav", "interview.wav"),
        ("a\nb\rc\td.mp3", "abcd.mp3"),
        ("\x1b[31mred\x1b[0m.ogg", "31mred_0m.ogg"),
        ("zero\u200bwidth.wav", "zerowidth.wav"),
        ("rtl\u202eeliforp.mp3", "rtleliforp.mp3"),
    ],
)
def test_nul_and_control_characters_are_removed(given_name: str, expected: str) -> None:
    assert safe_filename(given_name) == expected


def test_swedish_letters_are_kept_and_spaces_become_underscores() -> None:
    assert safe_filename("Ölandsbron å.mp3") == "Ölandsbron_å.mp3"
    assert safe_filename("Räksmörgås ÅÄÖ.wav") == "Räksmörgås_ÅÄÖ.wav"


def test_decomposed_swedish_letters_are_composed() -> None:
    assert safe_filename("A\u030angström.wav") == "Ångström.wav"


def test_runs_of_other_characters_become_one_underscore() -> None:
    assert safe_filename("möte  (del 1) & 2?.flac") == "möte_del_1_2.flac"


@pytest.mark.parametrize("empty", ["", ".", "..", "/", "../..", "   ", "\x00\x01", "._-", "C:\\"])
def test_names_with_nothing_left_become_audio(empty: str) -> None:
    assert safe_filename(empty) == "audio"


def test_the_default_can_be_chosen() -> None:
    assert safe_filename("..", default="upload") == "upload"


def test_leading_dots_cannot_make_a_hidden_file() -> None:
    assert safe_filename(".bashrc") == "bashrc"
    assert safe_filename("...mp3") == "mp3"


def test_very_long_name_is_cut_to_the_byte_limit_keeping_the_extension() -> None:
    result = safe_filename("a" * 1000 + ".wav")
    assert result.endswith(".wav")
    assert len(result.encode("utf-8")) == MAX_NAME_BYTES == 200
    assert result == "a" * 196 + ".wav"


def test_long_swedish_name_is_cut_on_a_character_boundary() -> None:
    result = safe_filename("ö" * 300 + ".mp3")
    assert result.endswith(".mp3")
    assert len(result.encode("utf-8")) <= 200
    assert set(result.removesuffix(".mp3")) == {"ö"}
    assert result == "ö" * 98 + ".mp3"


def test_long_name_without_extension_is_cut_to_the_byte_limit() -> None:
    result = safe_filename("x" * 500)
    assert result == "x" * 200


def test_a_long_tail_after_the_last_dot_is_not_treated_as_an_extension() -> None:
    result = safe_filename("recording." + "y" * 300)
    assert len(result.encode("utf-8")) <= 200
    assert result.startswith("recording.yyy")


def test_ordinary_names_are_unchanged() -> None:
    for name in ("intervju-2024_12_01.wav", "track.01.mp3", "AUDIO.M4A"):
        assert safe_filename(name) == name


@given(st.text())
def test_any_text_gives_a_safe_non_empty_bounded_name(name: str) -> None:
    result = safe_filename(name)
    assert result
    assert "/" not in result
    assert "\\" not in result
    assert "\x00" not in result
    assert result not in (".", "..")
    assert len(result.encode("utf-8")) <= MAX_NAME_BYTES


@given(st.text(max_size=20), st.text(alphabet="abcdefghijklmnopqrstuvwxyzåäö", min_size=250))
def test_long_names_keep_a_short_extension(prefix: str, stem: str) -> None:
    result = safe_filename(prefix + "/" + stem + ".mp3")
    assert result.endswith(".mp3")
    assert len(result.encode("utf-8")) <= MAX_NAME_BYTES


@given(st.text())
def test_the_result_is_already_safe(name: str) -> None:
    once = safe_filename(name)
    assert safe_filename(once) == once

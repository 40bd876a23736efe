"""The one way sizes and durations are printed, by the app, the command line and the notebook."""

from __future__ import annotations

import random
import re

import pytest

from workbench.core.format import format_duration, format_size

KiB, MiB, GiB, TiB, PiB = (1024**n for n in range(1, 6))
UNITS = {"B": 1, "KiB": KiB, "MiB": MiB, "GiB": GiB, "TiB": TiB, "PiB": PiB}


@pytest.mark.parametrize("size, text", [
    (0, "0 B"), (1023, "1023 B"), (KiB, "1.0 KiB"), (1536, "1.5 KiB"), (3 * GiB, "3.0 GiB"),
    (10 * GiB, "10 GiB"), (int(12.6 * GiB), "13 GiB"), (1000 * MiB, "1000 MiB"), (PiB, "1.0 PiB"),
    (2048 * PiB, "2048 PiB"),  # no larger unit
])
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text


@pytest.mark.parametrize("size", [None, -1])
def test_an_unknown_size_is_blank(size: int | None) -> None:
    assert format_size(size) == ""


@pytest.mark.parametrize("size, text", [
    (int(9.97 * GiB), "10 GiB"),  # not "10.0 GiB": one decimal only below 10
    (int(9.94 * GiB), "9.9 GiB"),
    (int(1023.7 * KiB), "1.0 MiB"),  # not "1024 KiB"
    (int(1023.4 * KiB), "1023 KiB"),
])
def test_sizes_are_rounded_to_what_is_shown(size: int, text: str) -> None:
    assert format_size(size) == text


def test_every_size_reads_back_close_to_itself_in_a_narrow_column() -> None:
    rng = random.Random(7)
    for size in [rng.randrange(0, 2**62) >> rng.randrange(0, 62) for _ in range(20_000)]:
        text = format_size(size)
        match = re.fullmatch(r"(\d+(?:\.\d)?) (B|[KMGTP]iB)", text)
        assert match, text
        number, unit = match.groups()
        assert len(text) <= 8, text
        assert number != "10.0" and (number != "1024" or unit == "PiB"), text
        assert ("." in number) == (unit != "B" and float(number) < 10), text
        half_step = (0.05 if "." in number else 0.5) * UNITS[unit]
        assert abs(float(number) * UNITS[unit] - size) <= half_step * (1 + 1e-9), (size, text)


@pytest.mark.parametrize("seconds, text", [
    (0, "0.0s"), (0.25, "0.2s"), (4.23, "4.2s"), (9.94, "9.9s"), (12, "12s"), (59.4, "59s"),
    (75, "1m15s"), (3599, "59m59s"), (3725, "1h02m"), (3755, "1h03m"), (26 * 3600, "26h00m"),
])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds, text", [
    (9.96, "10s"),  # not "10.0s"
    (59.7, "1m00s"),  # not "60s"
    (3599.6, "1h00m"),  # not "60m00s"
])
def test_durations_are_rounded_to_what_is_shown(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_a_negative_duration_is_zero() -> None:
    # A clock step back between two readings must not print "-1.0s".
    assert format_duration(-1) == format_duration(0)


def test_every_duration_reads_back_close_to_itself() -> None:
    rng = random.Random(7)
    for seconds in [10 ** rng.uniform(-2, 5.5) for _ in range(20_000)]:
        text = format_duration(seconds)
        tenths = re.fullmatch(r"(\d)\.(\d)s", text)
        clock = re.fullmatch(r"(?:(\d+)h)?(?:(\d{1,2})m)?(?:(\d{1,2})s)?", text)
        assert tenths or (clock and any(clock.groups())), text
        if tenths:
            value, step = int(tenths[1]) + int(tenths[2]) / 10, 0.1
        else:
            hours, minutes, secs = (int(group or 0) for group in clock.groups())
            assert minutes < 60 and secs < 60, text
            assert (hours == 0) == (clock[3] is not None), text  # seconds shown only below an hour
            value, step = hours * 3600 + minutes * 60 + secs, 60 if hours else 1
        assert abs(value - seconds) <= step / 2 + 1e-9, (seconds, text)

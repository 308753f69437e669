"""MEMWATCH_* environment variables configure a watcher; a bad value names its variable."""

from __future__ import annotations

import pytest

from memwatch.config import ENV_VARIABLES, watcher_options
from memwatch.watcher import Watcher


@pytest.mark.parametrize(
    ("name", "raw", "option", "value"),
    [
        ("MEMWATCH_MODE", "memwatch", "mode", "memwatch"),
        ("MEMWATCH_PROBE", "rss", "probe", "rss"),
        ("MEMWATCH_SAMPLE_INTERVAL", "2.5", "sample_interval", 2.5),
        ("MEMWATCH_AUTO_CAPTURE", "off", "auto_capture", False),
        ("MEMWATCH_CAPTURE_SECONDS", "7", "capture_seconds", 7.0),
        ("MEMWATCH_CAPTURE_COOLDOWN", " 9.5 ", "capture_cooldown", 9.5),
        ("MEMWATCH_TRACE_CAPTURES", "0", "trace_captures", False),
        ("MEMWATCH_TRACE_SECONDS", "8", "trace_seconds", 8.0),
        ("MEMWATCH_MAX_DETAILS", "12", "max_details", 12),
        ("MEMWATCH_CENSUS_TIME_BUDGET", "3", "census_time_budget", 3.0),
        ("MEMWATCH_MEMORY_LIMIT", "512MiB", "memory_limit", 512 * 1024 * 1024),
        ("MEMWATCH_LIMIT_CAPTURE_RATIO", "0.8", "limit_capture_ratio", 0.8),
    ],
)
def test_each_variable_sets_its_watcher_argument(name, raw, option, value):
    """Each MEMWATCH_* variable sets the one Watcher argument it names, parsed to its kind."""
    assert ENV_VARIABLES[name] == option
    assert watcher_options({name: raw}) == {option: value}


def test_every_variable_is_tested_here():
    """The variables read are exactly those documented and tested above."""
    assert set(ENV_VARIABLES) == {
        "MEMWATCH_MODE",
        "MEMWATCH_PROBE",
        "MEMWATCH_SAMPLE_INTERVAL",
        "MEMWATCH_AUTO_CAPTURE",
        "MEMWATCH_CAPTURE_SECONDS",
        "MEMWATCH_CAPTURE_COOLDOWN",
        "MEMWATCH_TRACE_CAPTURES",
        "MEMWATCH_TRACE_SECONDS",
        "MEMWATCH_MAX_DETAILS",
        "MEMWATCH_CENSUS_TIME_BUDGET",
        "MEMWATCH_MEMORY_LIMIT",
        "MEMWATCH_LIMIT_CAPTURE_RATIO",
    }


def test_unset_and_blank_variables_leave_the_defaults():
    """A variable that is missing or blank sets nothing; other environment variables are ignored."""
    assert watcher_options({"MEMWATCH_MAX_DETAILS": "  ", "HOME": "/root"}) == {}


def test_the_process_environment_is_read_by_default(monkeypatch):
    """Without a mapping, os.environ is read."""
    monkeypatch.setenv("MEMWATCH_SAMPLE_INTERVAL", "4")
    assert watcher_options()["sample_interval"] == 4.0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MEMWATCH_SAMPLE_INTERVAL", "fast", "not a valid float"),
        ("MEMWATCH_CAPTURE_SECONDS", "1m", "not a valid float"),
        ("MEMWATCH_AUTO_CAPTURE", "maybe", r"not a valid flag \(1/0, true/false\)"),
        ("MEMWATCH_MAX_DETAILS", "1.5", "not a valid int"),
        ("MEMWATCH_MEMORY_LIMIT", "lots", r"not a valid size \(bytes, or a number with a unit"),
        ("MEMWATCH_LIMIT_CAPTURE_RATIO", "most", "not a valid float"),
    ],
)
def test_a_bad_value_names_its_variable(name, value, message):
    """A malformed variable is refused with its name, its value and the kind expected."""
    with pytest.raises(ValueError, match=f"{name}='{value}' is {message}"):
        watcher_options({name: value})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("TRUE", True), ("yes", True), ("On", True), ("0", False), ("No", False)],
)
def test_a_flag_reads_every_spelling(raw, expected):
    """MEMWATCH_AUTO_CAPTURE accepts 1/0, true/false, yes/no and on/off, in any case."""
    assert watcher_options({"MEMWATCH_AUTO_CAPTURE": raw}) == {"auto_capture": expected}


def test_from_env_builds_a_watcher_and_overrides_win():
    """Watcher.from_env applies the variables; keyword overrides win over them."""
    watcher = Watcher.from_env(
        {
            "MEMWATCH_SAMPLE_INTERVAL": "2.5",
            "MEMWATCH_AUTO_CAPTURE": "off",
            "MEMWATCH_CAPTURE_COOLDOWN": "60",
            "MEMWATCH_MODE": "memwatch",
            "MEMWATCH_PROBE": "rss",
        },
        capture_cooldown=9.0,
    )
    assert watcher.sample_interval == 2.5
    assert watcher.auto_capture is False
    assert watcher.capture_cooldown == 9.0
    assert watcher.status().watcher.mode == "memwatch"
    assert watcher.status().watcher.probe == "rss"


def test_an_out_of_range_capture_ratio_is_refused():
    """MEMWATCH_LIMIT_CAPTURE_RATIO outside (0, 1] stops the watcher from being built."""
    with pytest.raises(ValueError, match="limit_capture_ratio must be in"):
        Watcher.from_env({"MEMWATCH_LIMIT_CAPTURE_RATIO": "1.5"})

"""The benchmark's pure helpers: option parsing, ratios, sample handling (no benchmark runs here)."""

import argparse

import pytest

from bench.flows import _processes, _windows, fallback_key, pop_samples, ratio
from bench.plots import ecdf


def test_windows_and_processes_parse_lists():
    assert _windows("2,30") == [2.0, 30.0]
    assert _processes("web=2,worker=3") == {"web": 2, "worker": 3}
    for bad in ("", "x", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            _windows(bad)
    for bad in ("web=2", "web=0,worker=1", "db=1,worker=1"):
        with pytest.raises(argparse.ArgumentTypeError):
            _processes(bad)


def test_ratio_is_none_without_a_denominator():
    assert ratio(15.0, 60.0) == 0.25
    assert ratio(1.0, 0) is None
    assert ratio(None, 2.0) is None


def test_fallback_key_names_pending_and_window():
    assert fallback_key(10000, 30.0) == "fallback_10000_over_30s"
    assert fallback_key(1000, 2.5) == "fallback_1000_over_2.5s"


def test_pop_samples_takes_them_out_of_the_figures():
    figures = {"flows": {"a": 1, "_samples": {"x": [1.0]}}, "other": {"b": 2}}
    assert pop_samples(figures) == {"flows": {"x": [1.0]}}
    assert figures == {"flows": {"a": 1}, "other": {"b": 2}}


def test_ecdf_is_sorted_and_ends_at_one():
    assert ecdf([3.0, 1.0, 2.0, 4.0]) == ([1.0, 2.0, 3.0, 4.0], [0.25, 0.5, 0.75, 1.0])

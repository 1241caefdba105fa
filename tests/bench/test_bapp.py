"""bench.bapp: reading OpenVINO benchmark_app's log and building its command line."""
from __future__ import annotations

from pathlib import Path

from crnn_deploy.bench.bapp import benchmark_app_args, parse_benchmark_app


def test_parse_benchmark_app_log():
    log = ("[ INFO ] Model batch size: 16\n[ INFO ] Count:            28 iterations\n"
           "[ INFO ]    Median:        167.49 ms\n[ INFO ]    Average:       181.31 ms\n"
           "[ INFO ] Throughput:   88.14 FPS\n")
    assert parse_benchmark_app(log) == {"fps": 88.14, "median_ms": 167.49, "average_ms": 181.31,
                                        "count": 28, "batch": 16}




def test_parse_benchmark_app_log_without_numbers():
    assert parse_benchmark_app("[ ERROR ] cannot read model\n") == {
        "fps": None, "median_ms": None, "average_ms": None, "count": None, "batch": None}


def test_benchmark_app_args():
    assert benchmark_app_args(Path("m.xml"), "latency", 5, Path("x.npy")) == [
        "-m", "m.xml", "-d", "CPU", "-hint", "latency", "-infer_precision", "f32", "-t", "5",
        "-i", "x.npy"]

"""pipeline/ray/resources.py without Ray: defaults derived from the nodes, requests that cannot
fit refused with what was asked and what the cluster has (the probe's case: ``--actors 2
--cpus-per-actor 1`` on a 2-CPU machine left nothing for the read tasks and hung)."""
from __future__ import annotations

import os
import signal
import time

import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.pipeline.ray.resources import FirstResult, plan_resources

ONE_2CPU = [{"CPU": 2.0, "memory": 8e9}]


def test_defaults_fit_the_cluster():
    p = plan_resources(ONE_2CPU)  # this machine: 2 one-thread actors sharing 1.75 CPU
    assert (p.actors, p.cpus_per_actor, p.engine_threads, p.cpus_per_reader) == (2, 0.875, 1, 0.25)
    p = plan_resources([{"CPU": 1.0}, {"CPU": 1.0}])  # one actor per node
    assert (p.actors, p.cpus_per_actor, p.engine_threads) == (2, 0.75, 1)
    p = plan_resources([{"CPU": 16.0}, {"CPU": 8.0}])  # the smaller node's share
    assert p.cpus_per_actor == 0.968 and p.actors == 24 and p.engine_threads == 1
    p = plan_resources(ONE_2CPU, actors=1)  # one actor takes what the reader leaves
    assert (p.actors, p.cpus_per_actor, p.engine_threads) == (1, 1.75, 2)
    p = plan_resources(ONE_2CPU, cpus_per_actor=0.5, cpus_per_reader=0.5, threads=3)
    assert (p.actors, p.engine_threads) == (3, 3)
    p = plan_resources([{"CPU": 4.0, "GPU": 2.0}], gpus_per_actor=1)
    assert p.actors == 2  # the GPUs bound the count


@pytest.mark.parametrize("request_, nodes, message", [
    ({"actors": 2, "cpus_per_actor": 1}, ONE_2CPU,
     r"asked for 2 engine actor\(s\) of 1 CPU .* \+ read tasks of 0.25 CPU; the cluster has "
     r"node 1: 2 CPU; at most 1 fit beside one read task"),
    ({"actors": 1, "cpus_per_actor": 4}, ONE_2CPU, "no node can hold one engine actor"),
    ({"actors": 3}, [{"CPU": 1.0}, {"CPU": 1.0}], "at most 2 fit"),
    ({"gpus_per_actor": 1}, ONE_2CPU, r"of 0.875 CPU, 1 GPU .* node 1: 2 CPU, 0 GPU"),
    ({"resources": {"NPU": 1}}, ONE_2CPU, r"1 NPU .* node 1: 2 CPU, 0 NPU"),
    ({"cpus_per_reader": 3}, ONE_2CPU, "read tasks of 3 CPU"),
])
def test_a_request_that_cannot_fit_is_refused_at_once(request_, nodes, message):
    with pytest.raises(UserError, match=message):
        plan_resources(nodes, **request_)


def test_first_result_wait_is_bounded(tmp_path):
    with pytest.raises(UserError, match=r"no result from Ray after 0.5 s .*free: 0 CPU"):
        with FirstResult(tmp_path / "pred", 0.5, lambda: "free: 0 CPU"):
            time.sleep(30)  # a run that never produces anything
    folder = tmp_path / "pred"
    folder.mkdir()
    (folder / "part-0.parquet").write_bytes(b"")
    with FirstResult(folder, 0.3):  # a result arrived: no interruption
        time.sleep(0.8)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert os.getpid() > 0

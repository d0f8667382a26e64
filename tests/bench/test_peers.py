"""``make bench-peers``' pure parts: peers.json's shape, the ``ahead`` rule, the table, what it reads.

LiteLLM itself is not run here (a ~750 MB virtualenv and minutes of measuring): ``make bench-peers`` does.
"""

from __future__ import annotations

import ipaddress
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import pytest
from bedrock_emulator import eventstream

from bench import peers, peers_report

EXPECTED_KEYS = {"name", "title", "unit", "ours", "peers", "ahead", "detail"}


def _latency_row(ours, passthrough, chat, name="sync_0ms"):
    return peers_report.row(
        name,
        "sync, 0 ms model",
        peers_report.LATENCY_UNIT,
        ours,
        {"litellm_passthrough": passthrough, "litellm_chat": chat},
    )


def _previous_rows():
    """The rows of the first side-by-side measurement (README), as the bench would write them."""
    return [
        _latency_row({"p50": 4.0, "p99": 9.6}, {"p50": 19.4, "p99": 25.4}, {"p50": 24.7, "p99": 32.5}),
        _latency_row(
            {"p50": 27.4, "p99": 42.3},
            {"p50": 25.0, "p99": 30.9},
            {"p50": 99.4, "p99": 115.8},
            "stream_total",
        ),
        peers_report.row(
            "server_cpu_per_stream_request",
            "server CPU per stream request",
            "ms of CPU (utime + stime of the server processes)",
            {"value": 36.7},
            {"litellm_passthrough": {"value": 37.4}, "litellm_chat": {"value": 102.6}},
        ),
        peers_report.row(
            "peak_memory",
            "peak memory",
            "MiB (VmHWM, largest server process)",
            {"value": 68.0},
            {"litellm_passthrough": {"value": 432.0}, "litellm_chat": {"value": 432.0}},
        ),
    ]


# ---- ahead ----


@pytest.mark.parametrize(
    ("ours", "peer_values", "ahead"),
    [
        ({"p50": 4.0, "p99": 9.6}, [{"p50": 19.4, "p99": 25.4}, {"p50": 24.7, "p99": 32.5}], True),
        # better at p50, worse at p99 than one peer: not ahead
        ({"p50": 27.4, "p99": 42.3}, [{"p50": 25.0, "p99": 30.9}, {"p50": 99.4, "p99": 115.8}], False),
        ({"p50": 20.0, "p99": 40.0}, [{"p50": 25.0, "p99": 30.9}], False),
        # a tie is not ahead
        ({"value": 37.4}, [{"value": 37.4}], False),
        ({"value": 36.7}, [{"value": 37.4}, {"value": 102.6}], True),
        # a peer missing the statistic, or no peer at all, cannot be beaten
        ({"p50": 1.0, "p99": 2.0}, [{"p50": 5.0}], False),
        ({"value": 1.0}, [], False),
        ({}, [{"value": 1.0}], False),
    ],
)
def test_ahead_means_strictly_lower_than_every_peer_on_every_statistic(ours, peer_values, ahead):
    names = list(peers_report.PEER_ROUTES)
    assert peers_report.is_ahead(ours, dict(zip(names, peer_values, strict=False))) is ahead


def test_added_latency_is_the_difference_of_percentiles():
    direct = [float(x) for x in range(1, 101)]  # p50 50, p99 99
    route = [x + 4 for x in direct[:-1]] + [200.0]  # p50 54, p99 103
    assert peers_report.added_latency(route, direct) == {"p50": 4.0, "p99": 4.0}
    assert peers_report.added_latency([], direct) == {}


def test_a_row_refuses_an_unknown_peer_route():
    with pytest.raises(ValueError, match="unknown peer route"):
        peers_report.row("r", "r", "ms", {"value": 1}, {"someone_else": {"value": 2}})


# ---- peers.json ----


def test_peers_json_has_one_entry_per_row_with_values_unit_and_ahead(tmp_path):
    rows = _previous_rows()
    doc = peers_report.document(
        rows,
        machine={"nproc": 2, "machine": "x86_64", "python": "3.11.7"},
        litellm_version="1.108.7",
        settings={},
    )
    path = tmp_path / "peers.json"
    peers_report.write(path, doc)
    written = json.loads(path.read_text())

    assert written == json.loads(json.dumps(doc))
    assert [r["name"] for r in written["rows"]] == [r["name"] for r in rows]
    for entry in written["rows"]:
        assert set(entry) == EXPECTED_KEYS
        assert set(entry["peers"]) == set(peers_report.PEER_ROUTES)
        assert isinstance(entry["ahead"], bool)
        assert entry["unit"]
    assert [r["ahead"] for r in written["rows"]] == [True, False, True, True]
    assert written["all_ahead"] is False
    assert written["peers"]["litellm"]["version"] == "1.108.7"
    assert written["peers"]["litellm"]["routes"]["litellm_chat"] == "LiteLLM 1.108.7 chat/completions"
    assert {"date", "machine", "settings"} <= set(written)


def test_the_table_shows_every_row_and_route_with_its_unit():
    doc = peers_report.document(
        _previous_rows(),
        machine={
            "nproc": 2,
            "machine": "x86_64",
            "cpu": "AMD EPYC",
            "python": "3.11.7",
            "loadavg_at_start": [1.5],
        },
        litellm_version="1.108.7",
        settings={},
    )
    text = peers_report.markdown(doc, ["a note"])
    lines = text.splitlines()
    assert lines[0].startswith(
        f"Peers, {doc['date']} on 2 x x86_64 (AMD EPYC), Python 3.11.7; LiteLLM 1.108.7"
    )
    header = next(line for line in lines if line.startswith("|  |"))
    assert header == (
        "|  | this gateway | LiteLLM 1.108.7 proxy, Bedrock pass-through | LiteLLM 1.108.7 chat/completions | ahead |"
    )
    body = [line for line in lines if line.startswith("| ") and not line.startswith("|  |")]
    assert body[0] == (
        "| sync, 0 ms model (ms added, p50 / p99) | +4.0 / +9.6 | +19.4 / +25.4 | +24.7 / +32.5 | yes |"
    )
    assert body[1].endswith("| +27.4 / +42.3 | +25.0 / +30.9 | +99.4 / +115.8 | **no** |")
    assert "| 36.7 ms | 37.4 ms | 102.6 ms | yes |" in body[2]
    assert "| 68 MiB | 432 MiB | 432 MiB | yes |" in body[3]
    assert lines[-1] == "- a note"


def test_a_missing_value_shows_as_na():
    assert peers_report.cell(None, peers_report.LATENCY_UNIT) == "n/a"
    assert peers_report.cell({"p50": -1.25, "p99": 0.0}, peers_report.LATENCY_UNIT) == "-1.2 / +0.0"


# ---- what the bench reads off the wire ----


def test_event_stream_messages_are_counted_and_truncation_is_caught():
    data = b"".join(eventstream.chunk_event({"type": "content_block_delta", "i": i}) for i in range(105))
    assert peers.count_eventstream_messages(data) == 105
    with pytest.raises(ValueError):
        peers.count_eventstream_messages(data[:-3])
    assert peers.count_eventstream_messages(b"") == 0


def test_sse_frames_are_counted():
    ours = b"event: chunk\ndata: {}\n\n" * 3 + b"event: done\ndata: {}\n\n"
    assert peers.count_sse_events(ours, "chunk") == 3
    assert peers.count_sse_events(ours.replace(b"\n", b"\r\n"), "done") == 1
    chat = b'data: {"a": 1}\n\ndata: {"b": 2}\n\ndata: [DONE]\n\n'
    assert peers.count_sse_data(chat) == 2


def test_the_bodies_are_one_claude_messages_request():
    body = json.loads(peers.claude_body())
    assert body["anthropic_version"] == "bedrock-2023-05-31" and body["messages"][0]["role"] == "user"
    chat = json.loads(peers.chat_body("bench-chat", stream=True))
    assert (
        chat["messages"] == body["messages"] and chat["max_tokens"] == body["max_tokens"] and chat["stream"]
    )


# ---- /proc ----


def test_cpu_and_peak_memory_parse_proc_text():
    stat = "1234 (a name) with spaces) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 0 0"
    assert peers.cpu_ms_from_stat(stat, ticks_per_second=100) == 3000.0
    assert peers.vmhwm_mib_from_status("Name:\tx\nVmHWM:\t   69632 kB\nVmRSS:\t1 kB\n") == 68.0
    with pytest.raises(ValueError):
        peers.vmhwm_mib_from_status("Name:\tx\n")


def test_proc_net_addresses_decode_and_loopback_is_recognised():
    assert peers.decode_proc_net_address("0100007F:1F90") == ("127.0.0.1", 8080)
    assert peers.decode_proc_net_address("00000000000000000000000001000000:0050") == ("::1", 80)
    mapped, _ = peers.decode_proc_net_address("0000000000000000FFFF00000100007F:0050")
    assert ipaddress.ip_address(mapped) == ipaddress.ip_address("::ffff:127.0.0.1") and peers.is_loopback(
        mapped
    )
    assert all(peers.is_loopback(ip) for ip in ("127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"))
    assert not any(peers.is_loopback(ip) for ip in ("10.0.0.1", "192.168.1.1", "8.8.8.8", "2001:db8::1"))


def _busy(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux /proc")
def test_this_process_cpu_memory_and_connections_read_from_proc():
    before = peers.process_cpu_ms([os.getpid()])
    _busy(0.05)
    assert peers.process_cpu_ms([os.getpid()]) > before
    assert peers.peak_mib(os.getpid()) > 1
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname()) as client:
            accepted, _ = server.accept()
            with accepted:
                assert client and peers.remote_addresses(os.getpid()) == {"127.0.0.1"}


def _pid() -> int:
    return os.getpid()


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux /proc")
def test_handler_processes_are_the_spawned_children():
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        child = pool.submit(_pid).result(timeout=60)
        assert child in peers.descendants(os.getpid())
        assert peers.handler_processes(os.getpid()) == [child]


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux /proc")
def test_stopping_a_server_ends_what_it_spawned(tmp_path):
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    server = peers.Server(
        "a parent",
        [sys.executable, "-c", script],
        env=dict(os.environ),
        log=tmp_path / "s.log",
        pipe_stdout=True,
    )
    grandchild = int(server.readline(30))
    assert os.path.exists(f"/proc/{grandchild}")
    server.stop(grace=10)
    assert server.process.returncode is not None
    deadline = time.monotonic() + 10
    while not _gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(grandchild)


def _gone(pid: int) -> bool:
    """No such process, or a zombie waiting to be reaped by init (it no longer runs)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


# ---- LiteLLM's configuration: offline, at the emulator ----


def test_litellm_is_configured_for_the_emulator_only():
    config = peers.litellm_config("anthropic.claude-3-haiku-20240307-v1:0", "http://127.0.0.1:4567")
    models = {m["model_name"]: m["litellm_params"] for m in config["model_list"]}
    assert models["bench-passthrough"]["model"] == "bedrock/anthropic.claude-3-haiku-20240307-v1:0"
    assert models["bench-chat"]["model"] == "bedrock/invoke/anthropic.claude-3-haiku-20240307-v1:0"
    for params in models.values():
        assert params["aws_bedrock_runtime_endpoint"] == "http://127.0.0.1:4567"
        assert params["aws_access_key_id"] == "testing"
    assert "database_url" not in config["general_settings"]


def test_litellm_env_is_offline_and_keeps_none_of_the_callers_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "a-real-secret")
    monkeypatch.setenv("AWS_PROFILE", "prod")
    monkeypatch.setenv("DATABASE_URL", "postgresql://somewhere/db")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real")
    env = peers.litellm_env(tmp_path, "http://127.0.0.1:4567", "sk-bench-x")
    assert env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert not {"AWS_PROFILE", "DATABASE_URL", "OPENAI_API_KEY"} & set(env)
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert (
        env["AWS_BEDROCK_RUNTIME_ENDPOINT"]
        == env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"]
        == "http://127.0.0.1:4567"
    )
    assert env["HOME"] == str(tmp_path) and env["LITELLM_MASTER_KEY"] == "sk-bench-x"


def test_the_litellm_lock_pins_every_package_exactly():
    lines = [
        line.strip()
        for line in peers.REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert "litellm[proxy]==1.108.7" in lines
    assert all("==" in line for line in lines), [line for line in lines if "==" not in line]
    assert not any(line.split("==")[0].lower() in {"bedrock-gateway"} for line in lines)


def test_make_bench_peers_runs_the_module():
    out = subprocess.run(
        ["make", "-n", "bench-peers", "run", "CONCURRENCY=16"],
        cwd=peers.REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "-m bench.peers" in out
    assert "--concurrency 16" in out

"""`make usage`: usage log lines summed by tenant and target."""

from __future__ import annotations

import json
import time

from gateway_cli.usage import summarize


def line(tenant, target, tokens_in, tokens_out, cost=None, message="usage"):
    usage = {"tenant": tenant, "target": target, "input_tokens": tokens_in, "output_tokens": tokens_out}
    return json.dumps({"level": "INFO", "message": message, "usage": dict(usage, cost_usd=cost)})


def test_sums_by_tenant_and_target_and_ignores_everything_else():
    rows = summarize(
        [
            line("acme", "claude", 10, 20, 0.5),
            line("acme", "claude", 1, 2, 0.25),
            line("globex", "claude", 100, 200),
            line("acme", "nova", 3, 4),
            line("acme", "claude", 999, 999, message="invoked"),
            "not json",
            '{"_aws": {}, "usage": 1}',
        ]
    )
    assert rows == [
        {
            "tenant": "globex",
            "target": "claude",
            "invocations": 1,
            "input_tokens": 100,
            "output_tokens": 200,
            "cost_usd": None,
        },
        {
            "tenant": "acme",
            "target": "claude",
            "invocations": 2,
            "input_tokens": 11,
            "output_tokens": 22,
            "cost_usd": 0.75,
        },
        {
            "tenant": "acme",
            "target": "nova",
            "invocations": 1,
            "input_tokens": 3,
            "output_tokens": 4,
            "cost_usd": None,
        },
    ]


def test_since_keeps_the_lines_logged_from_then_on(tmp_path, capsys, monkeypatch):
    from gateway_cli.main import main

    def at(timestamp, tenant):
        record = json.loads(line(tenant, "claude", 1, 1))
        return json.dumps(dict(record, timestamp=timestamp))

    logs = tmp_path / "logs"
    logs.mkdir()
    now = time.time()
    stamp = lambda seconds_ago: time.strftime(  # noqa: E731 - Powertools' format, in UTC
        "%Y-%m-%d %H:%M:%S,000+0000", time.gmtime(now - seconds_ago)
    )
    (logs / "api.log").write_text("\n".join([at(stamp(3 * 86400), "old"), at(stamp(600), "recent")]) + "\n")
    assert main(["usage", "--logs", str(logs), "--since", "1h", "--json"]) == 0
    assert [row["tenant"] for row in json.loads(capsys.readouterr().out)] == ["recent"]
    assert main(["usage", "--logs", str(logs), "--json"]) == 0  # locally, every line by default
    assert sorted(row["tenant"] for row in json.loads(capsys.readouterr().out)) == ["old", "recent"]

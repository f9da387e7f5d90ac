"""The Grafana dashboard in docs/ only queries series that Lockgate really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.accounting.helpers import chat, member_key, router_id
from tests.gateway.conftest import model, provider
from tests.helpers import fresh_minute

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "lockgate.json"


def test_every_series_of_the_dashboard_is_exported(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    live = lockgate(models=[model("chat", "text-generation", provider(upstream), cost_prompt_tokens=1.0)])
    _, key = member_key(live, [{"router": router_id(live, "chat"), "type": "rpm", "value": 1}], budget=10.0)
    fresh_minute()
    assert chat(live, key).status_code == 200
    assert chat(live, key).status_code == 429
    streamed = chat(live, "sk-test-master-key-0123456789", stream=True)  # time to first token
    assert streamed.status_code == 200
    upstream.fail_status = 500
    assert chat(live, "sk-test-master-key-0123456789").status_code == 502
    exported = {line.split("{")[0].split(" ")[0] for line in live.admin.get("/metrics").text.splitlines()}
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b((?:lockgate|process)_[a-z_]+)\b", target["expr"])
    }
    assert len(queried) >= 14
    assert queried <= exported, sorted(queried - exported)

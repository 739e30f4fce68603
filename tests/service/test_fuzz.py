"""Schema-based fuzzing of the served OpenAPI description with schemathesis: no input gets a 5xx.

Every operation of the description is fuzzed (schemathesis generates the requests from the schema, valid and
invalid) with an admin and a desk key: most operations refuse one of them early, the other goes deeper. A day is
set up first, so requests that name it reach the engine.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.service.conftest import Api, Server, secret


def test_no_input_gets_a_server_error(server: Server, api: Api) -> None:
    api.setup_day("2030-07-01", {"dr_a": [("09:00", "10:00", 3), ("10:00", "11:00", 3)]})
    for i in range(3):
        api.post("/book-token", "desk", {"day": "2030-07-01", "patient": f"f{i}", "category": "WALK_IN"})
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 20
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for operation in operations:

        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def fuzz(case: Any) -> None:
            for who in ("admin", "desk"):
                headers = dict(case.headers or {})
                headers["X-API-Key"] = secret(who)
                response = case.call(base_url=server.url, headers=headers)
                statuses[response.status_code] += 1
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}"
                    )
                elif response.status_code >= 400:
                    body = response.json()
                    assert isinstance(body, dict) and {"code", "message"} <= set(body), response.text[:300]

        fuzz()
    assert not failures, failures[:5]
    # the fuzzing went past the gate: successes and the engine's own refusals, not only validation errors
    assert statuses[200] + statuses[201] > 0 and statuses[404] + statuses[409] > 0, statuses
    print(sorted(statuses.items()))

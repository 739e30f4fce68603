"""Roles: every endpoint refuses every role that may not call it (403, changing nothing) and any caller without a
key (401). The endpoints come from the served OpenAPI description, so a new endpoint without a roles entry fails."""

from __future__ import annotations

from opdsim.service.api import ROLES
from opdsim.service.auth import Role
from tests.service.conftest import KEYS, Api

DAY = "2030-04-01"
PARAMS = {"day": DAY, "doctor": "dr_a", "token": "T1", "slot": "0"}
BODIES = {
    "setup_day": {"date": "2030-04-02", "time_zone": "UTC", "opens_at": "09:00",
                  "doctors": [{"id": "dr_a", "slots": [{"start": "09:00", "end": "10:00", "capacity": 1}]}]},
    "book_token": {"day": DAY, "patient": "p1", "category": "ONLINE"},
    "emergency": {"patient": "p9"},
    "delay": {"minutes": 5},
}  # fmt: skip
PUBLIC = {"health", "ready"}
# one key per role; the doctor key is dr_a's and the patient key p1's, so only the role can refuse them
BY_ROLE = {Role(info["role"]): name for name, info in KEYS.items() if name not in ("doc-b", "pat-2")}


def test_every_endpoint_refuses_every_other_role_and_no_key(api: Api) -> None:
    api.setup_day(DAY, {"dr_a": [("09:00", "10:00", 5)]})
    booked = api.post("/book-token", "pat-1", {"day": DAY, "patient": "p1", "category": "ONLINE"})
    assert booked.status_code == 201 and booked.json()["id"] == "T1"
    spec = api.get("/openapi.json", None).json()
    operations = {
        op["operationId"]: (method, path) for path, ops in spec["paths"].items() for method, op in ops.items()
    }
    assert set(operations) - PUBLIC == set(ROLES)
    before = api.get(f"/days/{DAY}/audit", "admin").json()["total"]
    refused = 0
    for op, (method, template) in operations.items():
        if op in PUBLIC:
            continue
        path = template.format(**PARAMS)
        body = BODIES.get(op, {})
        for who in [None, *(BY_ROLE[r] for r in Role if r not in ROLES[op])]:
            r = api.get(path, who) if method == "get" else api.post(path, who, body)
            expected = 401 if who is None else 403
            assert r.status_code == expected, (op, who, r.status_code, r.text)
            assert r.json()["code"] in ("no_key", "forbidden"), (op, who, r.text)
            refused += 1
    assert refused >= 2 * len(ROLES)  # a 401 and at least one 403 per endpoint
    assert api.get(f"/days/{DAY}/audit", "admin").json()["total"] == before  # nothing changed
    assert api.get("/days/2030-04-02", "admin").status_code == 404  # the refused setup did not happen


def test_patient_may_book_only_their_categories_for_themselves(api: Api) -> None:
    day = "2030-04-03"
    api.setup_day(day, {"dr_a": [("09:00", "10:00", 5)]})
    allowed = {"patient": {"ONLINE", "FOLLOW_UP"}, "desk": {"WALK_IN", "PAID_PRIORITY", "FOLLOW_UP"}}
    for who, role in (("pat-1", "patient"), ("desk", "desk")):
        for i, category in enumerate(["EMERGENCY", "PAID_PRIORITY", "FOLLOW_UP", "ONLINE", "WALK_IN"]):
            patient = "p1" if who == "pat-1" else f"d{i}"
            r = api.post("/book-token", who, {"day": day, "patient": patient, "category": category})
            if category in allowed[role]:
                assert r.status_code == 201, (who, category, r.text)
                cancel = api.post(f"/days/{day}/tokens/{r.json()['id']}/cancel", who, {})
                assert cancel.status_code == 200, cancel.text
            else:
                assert r.status_code == 403 and r.json()["code"] == "category_forbidden", (who, category)

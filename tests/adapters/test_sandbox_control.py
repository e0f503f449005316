"""The sandbox control API, over HTTP."""

from __future__ import annotations

import requests


def test_add_and_list_people(sandbox):
    r = requests.post(f"{sandbox.url}/api/people", json={"phone": "+15005550100", "name": "Hermione"}, timeout=5)
    assert r.status_code == 201
    person = r.json()
    assert person["phone"] == "+15005550100" and person["telegram_user_id"] > 0
    people = requests.get(f"{sandbox.url}/api/people", timeout=5).json()
    assert [p["name"] for p in people] == ["Hermione"]

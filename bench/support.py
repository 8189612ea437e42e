"""Shared pieces of the benchmarks: a signed-in test client and a request timer."""

from __future__ import annotations

import time

from flask import Flask
from flask.testing import FlaskClient

__all__ = ["signed_in", "time_get"]


def signed_in(app: Flask, code: str, password: str) -> FlaskClient:
    """A test client with a browser session of the user ``code``."""
    client = app.test_client()
    token = client.get("/api/v1/session").get_json()["csrf_token"]
    response = client.post("/api/v1/session", json={"code": code, "password": password},
                           headers={"X-CSRFToken": token})
    if response.status_code != 200:
        raise SystemExit(f"sign-in failed: {response.status_code} {response.get_data()[:300]}")
    return client


def time_get(client: FlaskClient, url: str, repeat: int) -> float:
    """Mean seconds of ``repeat`` GETs of ``url`` (each must answer 200)."""
    start = time.perf_counter()
    for _ in range(repeat):
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} → {response.status_code}: "
                             f"{response.get_data(as_text=True)[:300]}")
    return (time.perf_counter() - start) / repeat

"""A minimal worker process for the claim race test: claim, complete, repeat; print the ids.

Usage: python -m tests.support.claim_worker URL EXECUTOR  (the key in AGENTWIRE_WORKER_KEY).
It stops after a claim that waited a second and found nothing.
"""

from __future__ import annotations

import json
import os
import sys

import httpx


def main() -> None:
    url, executor = sys.argv[1], sys.argv[2]
    headers = {"X-API-Key": os.environ["AGENTWIRE_WORKER_KEY"]}
    claimed: list[str] = []
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        while True:
            response = http.post("/api/worker/claim", json={"executors": [executor], "wait": 1})
            if response.status_code == 204:
                break
            response.raise_for_status()
            data = response.json()["data"]
            task_id = data["task"]["id"]
            done = http.post(
                f"/api/worker/tasks/{task_id}/complete",
                json={
                    "leaseToken": data["leaseToken"],
                    "sequence": 1,
                    "result": {"by": os.getpid()},
                },
            )
            done.raise_for_status()
            claimed.append(task_id)
    print(json.dumps(claimed))


if __name__ == "__main__":
    main()

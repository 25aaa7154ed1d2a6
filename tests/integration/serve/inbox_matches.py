#!/usr/bin/env python3
"""Checks serve's inbox answer against the notifications the engine wrote: the inbox of
MUNICIPALITY holds exactly the notifications addressed to it, each once, unacknowledged first.
Used by serve.end_to_end (a real broker) and demo.serve (the demo's embedded cluster).

usage: inbox_matches.py NOTIFICATIONS.jsonl INBOX.json MUNICIPALITY   (exit 1 with the reason)
"""
import json
import sys

notifications, inbox, mun = sys.argv[1:4]
expected = set()
for line in open(notifications):
    n = json.loads(line)
    if {"kind": "MUNICIPALITY", "id": mun} in n.get("addressees", []):
        expected.add(n["notificationId"])
items = json.load(open(inbox))["items"]
got = [i["notification"]["notificationId"] for i in items]
if len(expected) >= 500:
    sys.exit("the test needs a smaller inbox (the check reads one page of 500)")
if set(got) != expected or len(got) != len(expected):
    sys.exit(f"inbox of {mun}: {len(got)} notifications, {len(set(got))} distinct; "
             f"{len(expected)} addressed to it; missing {len(expected - set(got))}, "
             f"foreign {len(set(got) - expected)}")
acked = [i["acknowledged"] for i in items]
if acked != sorted(acked):
    sys.exit("the inbox does not put unacknowledged notices first")
print(f"inbox of {mun}: {len(got)} notifications, as the engine wrote them")

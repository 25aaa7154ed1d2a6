#!/usr/bin/env python3
"""The web test's feed: a few episodes with times relative to now, so that on the wall clock the
ward has a notice held, a deadline due within 24 hours and a missed one, and two municipalities
of one region have their own patients. Usage: feed.py OUT_DIR. Writes feed.jsonl (loaded before
the browser starts), live.jsonl (produced while the inbox is open: one new admission notice for
municipality 0180) and orgs.json (names and ids the test checks)."""
import json
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

out = sys.argv[1]
now = datetime.now(timezone.utc).replace(microsecond=0)
stockholm = ZoneInfo("Europe/Stockholm")
today = now.astimezone(stockholm).date()


def iso(t):
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def local(day_offset, hour):
    d = today + timedelta(days=day_offset)
    return datetime(d.year, d.month, d.day, hour, 0, tzinfo=stockholm)


def pnr(birth, serial):
    """A personnummer YYYYMMDDNNNC with its Luhn check digit (test data, not a real person)."""
    body = birth[2:] + serial
    total = 0
    for i, ch in enumerate(body):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return birth + serial + str((10 - total % 10) % 10)


WARD, VC, REGION = "webtest-avd-12", "webtest-vc-norr", "01"
patients = {
    "A": ("Astrid Webbsson", pnr("19400101", "123"), "0180"),
    "B": ("Bertil Annanstad", pnr("19410202", "234"), "0126"),
    "H": ("Hilda Hallen", pnr("19420303", "345"), "0180"),
    "S": ("Sven Snartsson", pnr("19430404", "456"), "0180"),
    "M": ("Maja Missadsson", pnr("19440505", "567"), "0180"),
    "L": ("Lars Livesson", pnr("19450606", "678"), "0180"),
}
run = now.strftime("%H%M%S")
lines = {"feed": [], "live": []}


def ev(where, key, n, at, payload):
    name, pid, mun = patients[key]
    lines[where].append(json.dumps({
        "eventId": f"w{key}{n}", "episodeId": f"webtest-{run}-{key}", "occurredAt": iso(at), **payload}))


def admit(where, key, at):
    name, pid, mun = patients[key]
    ev(where, key, 1, at, {"admitted": {
        "patient": {"personalId": pid, "name": name, "address": "Provgatan 1, 111 11 Stockholm",
                    "homeMunicipality": mun},
        "careUnit": WARD, "region": REGION, "careType": "SOMATIC"}})
    ev(where, key, 2, at + timedelta(minutes=30), {"needsAssessed": {
        "needs": ["SOCIAL_SERVICES", "MUNICIPAL_HEALTH_CARE"], "outpatientUnit": VC,
        "estimatedDischargeAt": iso(now + timedelta(days=5))}})


# A: 0180's admission notice, unacknowledged. B: another municipality's patient.
admit("feed", "A", now - timedelta(hours=6))
admit("feed", "B", now - timedelta(hours=6))
# H: discharge-ready without consent: the discharge-ready notice is held (sekretess).
admit("feed", "H", now - timedelta(hours=8))
ev("feed", "H", 3, now - timedelta(hours=2), {"dischargeReady": {}})
# On the wall clock the engine sends a notice when it applies the event, so day-counted clocks that
# hang on a notice start now; the ones anchored on a fact's own time (the discharge date) do not.
# S: discharged today without the information transfer: due by the end of today (3 kap. 2 §).
admit("feed", "S", local(-4, 9))
ev("feed", "S", 3, local(-4, 11), {"consentRecorded": {"scope": "INFORMATION_SHARING", "granted": True}})
ev("feed", "S", 4, local(-4, 12), {"careContactAppointed": {"unit": VC}})
ev("feed", "S", 5, local(-3, 9), {"dischargeReady": {}})
discharge_s = now - timedelta(minutes=5)
if discharge_s.astimezone(stockholm).date() != today:
    discharge_s = now
ev("feed", "S", 6, discharge_s, {"discharged": {"reason": "hem"}})
# M: discharged two days ago without the information transfer and without a care contact: missed.
admit("feed", "M", local(-8, 9))
ev("feed", "M", 3, local(-8, 11), {"consentRecorded": {"scope": "INFORMATION_SHARING", "granted": True}})
ev("feed", "M", 5, local(-6, 9), {"dischargeReady": {}})
ev("feed", "M", 6, local(-2, 10), {"discharged": {"reason": "hem"}})
# L: admitted while the inbox is open: the live alert.
admit("live", "L", now - timedelta(minutes=40))

# Events in the order of their time, as a hospital's feed.
for where in lines:
    lines[where].sort(key=lambda l: json.loads(l)["occurredAt"])
    with open(f"{out}/{where}.jsonl", "w") as f:
        f.write("\n".join(lines[where]) + "\n")
with open(f"{out}/orgs.json", "w") as f:
    json.dump({"ward": WARD, "vc": VC, "region": REGION, "run": run,
               "patients": {k: {"name": v[0], "personalId": v[1], "municipality": v[2]}
                            for k, v in patients.items()}}, f)

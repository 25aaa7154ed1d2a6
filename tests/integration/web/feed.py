#!/usr/bin/env python3
"""The web test's feed: a few episodes with times relative to now, so that on the wall clock the
ward has a notice held, a deadline due within 24 hours and a missed one, and two municipalities
of one region have their own patients. Usage: feed.py OUT_DIR. Writes feed.jsonl (loaded before
the browser starts, for the engine on the wall clock), past.jsonl (a stay the municipality is
liable to pay for, replayed by a second engine on the events' own time: see "M" below),
live.jsonl (produced while the inbox is open: one new admission notice for municipality 0180) and
orgs.json (names, ids and the expected renderings the test checks).
Besides: a patient admitted at a known instant next to the last daylight-saving change (the test
checks the app shows it in Stockholm time from a browser in New York), one whose admission notice
is held for missing content (no address), and enough admissions that municipality 0180's inbox
has more than one page, told to the municipality alone (no outpatient unit)."""
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
    "D": ("Dagny Tidsson", pnr("19460707", "789"), "0180"),
    "P": ("Petra Adresslös", pnr("19470808", "891"), "0180"),
    "R": ("Rut Redosson", pnr("19480909", "912"), "0180"),
}
# Q01..Q60: more of 0180's admission notices (one each) than one inbox page (50) holds.
PAGE_FILL = 60
for i in range(1, PAGE_FILL + 1):
    patients[f"Q{i:02d}"] = (f"Kö Sidfyllnad{i:02d}", pnr(f"1950{(i - 1) // 28 + 1:02d}{(i - 1) % 28 + 1:02d}", f"{i:03d}"),
                             "0180")
run = now.strftime("%H%M%S")
lines = {"feed": [], "past": [], "live": []}


def ev(where, key, n, at, payload):
    name, pid, mun = patients[key]
    lines[where].append(json.dumps({
        "eventId": f"w{key}{n}", "episodeId": f"webtest-{run}-{key}", "occurredAt": iso(at), **payload}))


def admit(where, key, at, address="Provgatan 1, 111 11 Stockholm", outpatient=VC):
    name, pid, mun = patients[key]
    patient = {"personalId": pid, "name": name, "homeMunicipality": mun}
    if address:
        patient["address"] = address
    ev(where, key, 1, at, {"admitted": {
        "patient": patient, "careUnit": WARD, "region": REGION, "careType": "SOMATIC"}})
    # Municipal health care needs an outpatient unit; without one, social services only.
    needs = {"needs": ["SOCIAL_SERVICES", "MUNICIPAL_HEALTH_CARE"] if outpatient else ["SOCIAL_SERVICES"],
             "estimatedDischargeAt": iso(now + timedelta(days=5))}
    if outpatient:
        needs["outpatientUnit"] = outpatient
    ev(where, key, 2, at + timedelta(minutes=30), {"needsAssessed": needs})


def last_dst_change():
    """The last daylight-saving change in Stockholm before now (within the last 8 months)."""
    t = now.replace(minute=0, second=0)
    while (t - timedelta(hours=1)).astimezone(stockholm).utcoffset() == t.astimezone(stockholm).utcoffset():
        t -= timedelta(hours=1)
    return t


# A: 0180's admission notice, unacknowledged. B: another municipality's patient.
admit("feed", "A", now - timedelta(hours=6))
admit("feed", "B", now - timedelta(hours=6))
# H: discharge-ready without consent: the discharge-ready notice is held (sekretess).
admit("feed", "H", now - timedelta(hours=8))
ev("feed", "H", 3, now - timedelta(hours=2), {"dischargeReady": {}})
# R: discharge-ready with consent: a discharge-ready notice to each of 0180's services (the test
# acknowledges these, with S's).
admit("feed", "R", now - timedelta(hours=10))
ev("feed", "R", 3, now - timedelta(hours=9), {"consentRecorded": {"scope": "INFORMATION_SHARING", "granted": True}})
ev("feed", "R", 4, now - timedelta(hours=1), {"dischargeReady": {}})
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
# M: the municipality's payment liability, and missed deadlines. Liability needs the admission
# notice in time, a discharge-ready notice that reached the municipality and, as a SIP is required
# (social services and municipal health care), the SIP invitation in time; then the nights from
# the notice's day + 3 (09:00, before the 12:00 cut-off) up to the discharge. The wall-clock engine
# sends its notices when it applies an event (now), which makes a days-old admission notice late
# and starts the liability today, after this discharge: none of it would be owed. So M's events go
# to past.jsonl, which a second engine replays on their own time (web.sh): the notices count as
# sent when the events occurred. Discharged two days ago without the information transfer and
# without a care contact: both missed (neither affects liability). Liable nights: -6 to -3, 4.
admit("past", "M", local(-10, 9))
ev("past", "M", 3, local(-10, 11), {"consentRecorded": {"scope": "INFORMATION_SHARING", "granted": True}})
ev("past", "M", 5, local(-9, 9), {"dischargeReady": {}})
ev("past", "M", 7, local(-8, 10), {"sipInvitationSent": {}})
ev("past", "M", 6, local(-2, 10), {"discharged": {"reason": "hem"}})
# The municipality acknowledged its notices (both services) the next morning: the engine that
# replayed past.jsonl is gone when the browser test acknowledges, so none is left to acknowledge.
# Ids as the engine makes them (docs/domain-decisions.md, "Notification ids"): the admission
# notices of the assessment wM2, the discharge-ready notices of wM5 (its /1 is a warning).
for n, (cause, day) in enumerate([("wM2/1", -9), ("wM2/2", -9), ("wM5/2", -8), ("wM5/3", -8)], start=8):
    ev("past", "M", n, local(day, 8), {"noticeAcknowledged": {
        "notificationId": f"webtest-{run}-M/e/{cause}", "by": {"kind": "MUNICIPALITY", "id": "0180"}}})
# D: admitted half an hour on the summer-time side of the last daylight-saving change (before the
# change in autumn, after it in spring), so that a browser zone or a fixed offset shows the wrong
# hour. The outpatient unit's inbox (one page) is where the test looks for it.
change = last_dst_change()
summer_side = change - timedelta(minutes=30)
if summer_side.astimezone(stockholm).utcoffset() < (change + timedelta(minutes=30)).astimezone(stockholm).utcoffset():
    summer_side = change + timedelta(minutes=30)
admit("feed", "D", summer_side)
# P: no registered address: the admission notice is held for missing content (2 kap. 2 §).
admit("feed", "P", now - timedelta(hours=3), address=None)
# Q..: admitted yesterday, so that the municipality's inbox pages; told to the municipality only
# (social services, no outpatient unit), so the outpatient unit never sees them.
for i in range(1, PAGE_FILL + 1):
    admit("feed", f"Q{i:02d}", now - timedelta(hours=20, minutes=i), outpatient=None)
# L: admitted while the inbox is open: the live alert.
admit("live", "L", now - timedelta(minutes=40))

# Events in the order of their time, as a hospital's feed.
for where in lines:
    lines[where].sort(key=lambda l: json.loads(l)["occurredAt"])
    with open(f"{out}/{where}.jsonl", "w") as f:
        f.write("\n".join(lines[where]) + "\n")
with open(f"{out}/orgs.json", "w") as f:
    json.dump({"ward": WARD, "vc": VC, "region": REGION, "run": run,
               # The Swedish wall-clock time of D's admission, as the app must show it
               # (Python's zoneinfo, not the browser's ICU), and what New York's would be.
               "dstAdmitted": {"at": iso(summer_side),
                               "stockholm": summer_side.astimezone(stockholm).strftime("%Y-%m-%d %H:%M"),
                               "newYork": summer_side.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%d %H:%M")},
               "patients": {k: {"name": v[0], "personalId": v[1], "municipality": v[2]}
                            for k, v in patients.items()}}, f)

#!/usr/bin/env python3
"""Requests per second of `samordna fhir listen` against the real broker.

C keep-alive HTTP connections, each sending one request at a time and waiting for its answer (as
a FHIR client does): `POST /events` with one samordna.v1.Event (the plain publisher,
at-least-once) and `POST /fhir/Encounter` with one new inpatient Encounter (the intake: the event
and the encounter's memory record in one Kafka transaction). Prints requests per second over all
connections and the p50 / p99 of request -> 2xx, one line per route; the caller compares them with
librdkafka's own acks=all produce rate on the same broker (run_fhir_bench.sh).

usage: fhir_listen_bench.py SAMORDNA REQUESTS CONNECTIONS
"""

import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def start(samordna, bootstrap, tag):
    err = tempfile.NamedTemporaryFile(prefix=tag, suffix=".err", delete=False)
    p = subprocess.Popen(
        [samordna, "fhir", "listen", "--bootstrap", bootstrap, "--port", "0", "--topic",
         tag + ".events", "--memory-topic", tag + ".memory", "--instance", tag],
        stdout=subprocess.PIPE, stderr=err, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        m = re.search(r"fhir listen: .*:(\d+)", line or "")
        if m:
            return p, int(m.group(1)), err.name
        if p.poll() is not None:
            break
    p.kill()
    sys.exit("listener did not start; see " + err.name)


def event(tag, i):
    return json.dumps({
        "eventId": "%s-%d" % (tag, i), "episodeId": "bench-%d" % (i % 500),
        "occurredAt": "2025-03-10T08:00:00Z", "source": "bench",
        "consentRecorded": {"scope": "INFORMATION_SHARING", "granted": True}})


def encounter(tag, i):
    # A generated test person: Skatteverket's public example number 191212121212.
    return json.dumps({
        "resourceType": "Encounter", "id": "%s-E%d" % (tag, i), "status": "in-progress",
        "class": {"code": "IMP"},
        "contained": [{"resourceType": "Patient", "id": "p",
                       "identifier": [{"system": "urn:oid:1.2.752.129.2.1.3.1",
                                       "value": "191212121212"}],
                       "address": [{"district": "0380"}]}],
        "subject": {"reference": "#p"},
        "period": {"start": "2025-03-10T08:00:00+01:00"},
        "location": [{"location": {"identifier": {"value": "MED3"}}}]})


def run(port, n, conns, path, body_of, content_type):
    latencies, bad, lock = [], [0], threading.Lock()

    def client(t):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for i in range(t, n, conns):
            body = body_of(i)
            t0 = time.monotonic()
            c.request("POST", path, body=body, headers={"Content-Type": content_type})
            r = c.getresponse()
            r.read()
            mine.append((time.monotonic() - t0) * 1000)
            if r.status >= 300:
                bad[0] += 1
        c.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(t,)) for t in range(conns)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - t0
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print("fhir listen %-18s %5d requests, %2d connections: %7.0f requests/s, p50 %.1f ms, "
          "p99 %.1f ms, non-2xx %d" % (path, n, conns, n / secs, statistics.median(latencies), p99,
                                       bad[0]), flush=True)
    return bad[0]


def main():
    samordna, n, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    bootstrap = os.environ.get("SAMORDNA_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    tag = "fhirbench.%d.%d" % (os.getpid(), random.randrange(1 << 30))
    p, port, err = start(samordna, bootstrap, tag)
    bad = 0
    try:
        # Warm up: the first produce and the first transaction add the partitions.
        run(port, 20, 1, "/events", lambda i: event(tag + "w", i), "application/json")
        run(port, 20, 1, "/fhir/Encounter", lambda i: encounter(tag + "w", i),
            "application/fhir+json")
        bad += run(port, n, conns, "/events", lambda i: event(tag, i), "application/json")
        bad += run(port, n, conns, "/fhir/Encounter", lambda i: encounter(tag, i),
                   "application/fhir+json")
    finally:
        p.terminate()
        p.wait(60)
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    sys.path.insert(0, os.path.join(source, "tests", "integration", "hl7"))
    import mllp  # the one delete_topics
    mllp.delete_topics(source, bootstrap, [tag + ".events", tag + ".memory"])
    os.unlink(err)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

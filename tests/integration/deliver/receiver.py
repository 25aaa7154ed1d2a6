#!/usr/bin/env python3
"""A webhook receiver for `samordna deliver`'s tests: HTTPS (the test's throw-away CA), every
signature checked with Python's own hmac (independent of connectors/deliver/signature.cc), and
failures on purpose.

    receiver.py --cert C --key K --behaviour B.json --log L.jsonl --port-file P

B.json maps a path to what it does: {"/a": {"secrets": ["whsec_..."], "fail": 0.3,
"timeout_s": 1.5}, "/gone": {"secrets": [...], "status": 410, "times": 1}, ...}.
  fail       the share of requests answered by a failure picked at random: 500, 503 or 429 with
             Retry-After: 1, a dropped connection, or no answer for timeout_s (past deliver's)
  status     answer this status (the first `times` requests only, when given; then 200)
The file is read again whenever it changes.
Each request is one JSON line in L: path, webhook-id, whether its signature verified, the
timestamp's skew, the status answered (0: dropped or stalled), the body's episode and kind.
"""
import argparse
import base64
import hashlib
import hmac
import json
import random
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def key_of(secret):
    s = secret.strip()
    if s.startswith("whsec_"):
        s = s[len("whsec_"):]
    return base64.b64decode(s)


def verified(keys, msg_id, timestamp, body, header):
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = [base64.b64encode(hmac.new(k, signed, hashlib.sha256).digest()).decode() for k in keys]
    for part in header.split(" "):
        version, _, sig = part.partition(",")
        if version == "v1" and any(hmac.compare_digest(sig, e) for e in expected):
            return True
    return False


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--behaviour", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    import os
    state = {"mtime": None, "behaviour": {}}

    def behaviour_now():
        # Re-read when the file changes: a test turns an endpoint from 410 to 200 while running.
        m = os.stat(args.behaviour).st_mtime_ns
        if m != state["mtime"]:
            with open(args.behaviour) as f:
                state["behaviour"] = json.load(f)
            state["mtime"] = m
        return state["behaviour"]
    rng = random.Random(args.seed)
    lock = threading.Lock()
    counts = {}
    log = open(args.log, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # quiet
            pass

        def do_POST(self):
            with lock:
                conf = behaviour_now().get(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if conf is None:
                self.answer(404)
                return
            msg_id = self.headers.get("webhook-id", "")
            ts = self.headers.get("webhook-timestamp", "0")
            ok = verified([key_of(s) for s in conf["secrets"]], msg_id, ts, body,
                          self.headers.get("webhook-signature", ""))
            episode = kind = ""
            try:
                doc = json.loads(body)
                if doc.get("resourceType") == "Bundle":
                    kind = "fhir:" + doc["entry"][0]["resource"]["eventCoding"]["code"]
                    episode = [e["resource"] for e in doc["entry"]
                               if e["resource"]["resourceType"] == "Encounter"][0]["identifier"][0]["value"]
                else:
                    episode = doc.get("episodeId", "")
                    kind = next((k for k in doc if k not in
                                 ("notificationId", "episodeId", "issuedAt", "addressees")), "")
            except Exception:  # the test fails on the empty episode
                pass
            with lock:
                n = counts.get(self.path, 0)
                counts[self.path] = n + 1
                roll = rng.random()
                pick = rng.choice(["500", "503", "429", "drop", "stall"])
            status, retry_after = 200, None
            if "status" in conf and ("times" not in conf or n < conf["times"]):
                status = conf["status"]
            elif roll < conf.get("fail", 0):
                if pick == "drop":
                    status = 0
                elif pick == "stall":
                    status = -1
                else:
                    status = int(pick)
                    if status == 429:
                        retry_after = "1"
            record = {"path": self.path, "id": msg_id, "sig": ok, "skew": int(time.time()) - int(ts),
                      "status": max(status, 0), "episode": episode, "kind": kind}
            log.write(json.dumps(record) + "\n")
            if status == 0:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if status == -1:
                time.sleep(conf.get("timeout_s", 1.5))
                self.close_connection = True
                return
            self.answer(status if ok else 401, retry_after)

        def answer(self, status, retry_after=None):
            self.send_response(status)
            if retry_after:
                self.send_header("Retry-After", retry_after)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()

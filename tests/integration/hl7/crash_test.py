#!/usr/bin/env python3
"""kill -9 of `samordna hl7 listen` under load, against the real broker (ctest hl7.crash, label
integration; the full size is a benchmark, tests/bench/README.md).

Senders stream N ADT^A01 messages over C connections, one message at a time per connection, and
resend whatever was not acknowledged with AA (no answer, AE, a dropped connection) until it is.
Meanwhile the listener is SIGKILLed K times and restarted at once on the same port. At the end every
message's event is on the events topic exactly once (read_committed), and every AA answered its own
control id.

usage: crash_test.py SAMORDNA SOURCE_DIR [MESSAGES [CONNECTIONS [KILLS]]]   (exit 77: no broker)
"""

import os
import random
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mllp  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    samordna, source = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    conns = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    kills = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    bootstrap = os.environ.get("SAMORDNA_KAFKA_BOOTSTRAP", "")
    if not bootstrap:
        print("skipped: SAMORDNA_KAFKA_BOOTSTRAP is unset")
        return 77
    tag = "hl7crash.%d.%d" % (os.getpid(), random.randrange(1 << 30))
    port = free_port()
    listener = mllp.Listener(samordna, bootstrap, tag, extra=["--durable-bound-ms", "3000"])
    listener.start(port=port)

    acked = [False] * n
    lock = threading.Lock()
    stats = {"acked": 0, "resends": 0, "errors": 0, "wrong": 0}
    done = threading.Event()

    def sender(t):
        mine = [i for i in range(n) if i % conns == t]
        client = None
        for i in mine:
            message = mllp.adt("A01", "K%d" % i, "V-K%d" % i)
            attempts = 0
            while True:
                attempts += 1
                try:
                    if client is None:
                        client = mllp.Client(port, timeout=5)
                    client.send(message)
                    ack = client.ack(timeout=8)
                except OSError:
                    ack = None
                if ack is not None:
                    code, control = mllp.msa(ack)
                    if code == "AA" and control == "K%d" % i:
                        with lock:
                            acked[i] = True
                            stats["acked"] += 1
                            stats["resends"] += attempts - 1
                        break
                    with lock:
                        if code == "AA":
                            stats["wrong"] += 1
                        stats["errors"] += 1
                # No ACK, AE, or a broken connection: reconnect and send the same message again.
                if client is not None:
                    client.close()
                    client = None
                time.sleep(0.05)
        if client is not None:
            client.close()

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(conns)]
    start = time.monotonic()
    for t in threads:
        t.start()
    restarts = 0
    try:
        for k in range(kills):
            # Kill once a further share of the messages is acknowledged, at a random moment.
            target = (k + 1) * n // (kills + 1)
            while True:
                with lock:
                    if stats["acked"] >= target:
                        break
                time.sleep(0.01)
            time.sleep(random.random() * 0.2)
            listener.kill(signal.SIGKILL)
            listener.wait(30)
            listener.start(port=port)
            restarts += 1
        for t in threads:
            t.join(timeout=1800)
        elapsed = time.monotonic() - start
        rc = listener.stop()
        events = mllp.read_events(samordna, bootstrap, listener.events_topic, timeout_ms=5000)
        ids = {}
        for e in events:
            ids[e["eventId"]] = ids.get(e["eventId"], 0) + 1
        missing = [i for i in range(n) if ids.get("K%d#1" % i, 0) == 0]
        doubled = [k for k, v in ids.items() if v > 1]
        extra = [k for k in ids if not (k.startswith("K") and k.endswith("#1"))]
        replayed = listener.stderr().count("replayed")
        print("%d messages over %d connections, %d SIGKILLs: %d acknowledged in %.1f s, %d resends, "
              "%d error answers; %d events on the topic, %d missing, %d twice or more, %d unknown; "
              "listener exit %s" % (n, conns, restarts, stats["acked"], elapsed, stats["resends"],
                                    stats["errors"], len(events), len(missing), len(doubled),
                                    len(extra), rc))
        for line in listener.stderr().splitlines():
            if "stopped" in line or "listening" in line:
                print("  " + line)
        ok = (not missing and not doubled and not extra and all(acked) and stats["wrong"] == 0 and
              rc == 0 and replayed >= 0)
        if ok:
            mllp.delete_topics(source, bootstrap, [listener.events_topic, listener.memory_topic])
        else:
            print("FAIL: missing %s doubled %s extra %s wrong %d" % (missing[:10], doubled[:10],
                                                                   extra[:10], stats["wrong"]))
        return 0 if ok else 1
    finally:
        if listener.proc.poll() is None:
            listener.kill()


if __name__ == "__main__":
    sys.exit(main())

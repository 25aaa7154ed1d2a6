#!/usr/bin/env python3
"""Send -> ACK rate and ACK latency of `samordna hl7 listen` against the real broker.

C connections, each sending ADT^A01 messages one at a time and waiting for its AA (as an HL7
sender does); messages per second over all of them, and the p50 / p99 of send -> ACK.

usage: hl7_listen_bench.py SAMORDNA SOURCE_DIR MESSAGES CONNECTIONS [LISTENER ARGS...]
"""

import os
import random
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration",
                                "hl7"))
import mllp  # noqa: E402


def main():
    samordna, source, n, conns = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    bootstrap = os.environ.get("SAMORDNA_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    tag = "hl7bench.%d.%d" % (os.getpid(), random.randrange(1 << 30))
    listener = mllp.Listener(samordna, bootstrap, tag, extra=sys.argv[5:])
    port = listener.start()
    # Warm up: the first transaction adds the partitions, the first connection pays for it.
    w = mllp.Client(port)
    for i in range(20):
        w.send(mllp.adt("A01", "W%d" % i, "V-W%d" % i))
        w.ack()
    w.close()
    latencies = []
    lock = threading.Lock()
    bad = [0]

    def sender(t):
        c = mllp.Client(port, timeout=30)
        mine = []
        for i in range(t, n, conns):
            m = mllp.adt("A01", "B%d" % i, "V-B%d" % i)
            t0 = time.monotonic()
            c.send(m)
            a = c.ack(timeout=30)
            mine.append((time.monotonic() - t0) * 1000)
            if mllp.msa(a or b"")[0] != "AA":
                bad[0] += 1
        c.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(conns)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - start
    listener.stop()
    latencies.sort()
    stopped = [line for line in listener.stderr().splitlines() if "stopped" in line]
    print("hl7 listen, %d connection(s): %d messages in %.2f s: %.0f messages/s send->ACK, "
          "p50 %.1f ms, p99 %.1f ms, %d not AA" % (
              conns, n, secs, n / secs, statistics.median(latencies),
              latencies[len(latencies) * 99 // 100], bad[0]))
    if stopped:
        print("  " + stopped[-1])
    mllp.delete_topics(source, bootstrap, [listener.events_topic, listener.memory_topic])
    return 0 if bad[0] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""`samordna hl7 listen` against the real broker (ctest hl7.listen, label integration).

Every file of ../shared/data/hl7v2 through the listener: the acknowledgement each gets (written by
hand from the standard and the mapping table of connectors/hl7/README.md, the same expectations as
tests/unit/hl7/adt_mapping_test.cc), and the events on the topic, each exactly once. Then: a resend
gets the first ACK byte for byte and produces nothing, the same control id with other content gets
205, framing noise and split or coalesced frames, Latin-1 and UTF-8 names arrive intact, enhanced
mode, an FHS/BHS batch, python3-hl7's mllp_send as an independent sender, 200 connections at
once, the listener's /metrics (--metrics-port: the counts this test caused, `promtool check
metrics` clean, no name of a patient), and SIGTERM answers what was sent and exits 0.

usage: listen_test.py SAMORDNA SOURCE_DIR     (exit 77: skipped, no broker or no shared data)
"""

import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mllp  # noqa: E402

failures = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def metric(text, name):
    """The value of the series `name` (with its labels, as rendered) in a Prometheus text."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def metrics_check(metrics_port):
    """/metrics of the listener after steps 1-7: the counts the test caused, promtool, no PII."""
    import urllib.request
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port,
                                  timeout=10).read().decode()
    check(metric(text, 'samordna_hl7_replayed_total') == 2,
          "metrics: 2 resends answered from memory, got %s" % metric(text, 'samordna_hl7_replayed_total'))
    check(metric(text, 'samordna_hl7_control_id_reused_total') == 1, "metrics: one 205")
    accepted = metric(text, 'samordna_hl7_messages_total{ack="accepted"}') or 0
    check(accepted >= 200, "metrics: accepted %s, at least the 200 connections'" % accepted)
    check((metric(text, 'samordna_hl7_messages_total{ack="rejected"}') or 0) >= 1,
          "metrics: rejected messages counted")
    check((metric(text, 'samordna_intake_publish_duration_seconds_count'
                  '{listener="hl7",outcome="durable"}') or 0) >= 200,
          "metrics: publish latency observed per durable submission")
    check(metric(text, 'samordna_intake_transactions_total{result="committed"}') is not None,
          "metrics: intake transactions")
    check(metric(text, 'samordna_hl7_connections_open') is not None, "metrics: open connections")
    check(metric(text, 'samordna_intake_durable_failures_total'
                 '{listener="hl7",reason="timed_out"}') == 0, "metrics: no durable failure")
    for name in ("Tolvansson", "Öberg", "Åsa"):
        check(name not in text, "metrics: a patient's name in /metrics")
    # deploy/install-deps.sh installs every tool this test uses: a missing one fails it rather
    # than passing with a check left out.
    check(shutil.which("promtool") is not None,
          "promtool (Debian prometheus) missing: run deploy/install-deps.sh")
    if shutil.which("promtool"):
        out = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                             capture_output=True, timeout=60)
        check(out.returncode == 0, "promtool check metrics: %r %r" % (out.stdout, out.stderr))


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


# file -> (MSA-1, table 0357 code or None, event ids). None for MSA-1: no ACK is due (enhanced
# mode, MSH-15 NE). Codes: AE 101/100 for content the mapping needs, AR 200 message type,
# 201 event (A40), 202 processing id, 100 unreadable; CA/CE/CR when MSH-15 asks for enhanced mode.
EXPECTED = {
    "dotnetcore_ADT_A01_v2.3.1_escE_qmarks.hl7": ("AE", "101", []),    # no PV1-19
    "dotnetcore_ADT_A04_v2.7_double_newline.hl7": ("AE", "100", []),   # no PV1
    "dotnetcore_ADT_A04_v2.7_segment_name_only.hl7": ("AE", "100", []),
    "dotnetcore_ADT_A04_v2.7_tab_in_field.hl7": ("AE", "100", []),
    "dotnetcore_ADT_A08_v2.4_invalid_escape_ZZ1.hl7": ("CR", "100", []),  # MSH-15 AL
    "dotnetcore_ADT_A28_v2.5_utf8_escF_nulls.hl7": ("AA", "0", []),     # informational ERR
    "dotnetcore_ORM_O01_v2.3_all_escapes_PID5.hl7": ("AR", "200", []),
    "dotnetcore_Sample-ADT_O01_v2.3_blank_lines.hl7": ("AA", None, []),  # v2.3: reason in MSA-3
    "hapi_ACK_AA_v2.2_from_comment.hl7": ("AR", "200", []),
    "hapi_ACK_AA_v2.4.hl7": ("AR", "100", []),                          # MSH-18 bare UNICODE
    "hapi_ACK_AR_v2.2_ERR_from_comment.hl7": ("AR", "200", []),
    "hapi_ADT_A01_v2.2_LABGL1.hl7": ("AA", None, []),                   # not inpatient
    "hapi_ADT_A01_v2.4.hl7": ("AA", None, []),
    "hapi_ADT_A03_v2.5.hl7": ("AA", None, ["263206#1"]),
    "hapi_ADT_A03_v2.5_CRLF_empty_PV1.hl7": (None, None, []),           # MSH-15 NE
    "hapi_ADT_A05_v2.2.hl7": ("CR", "202", []),                         # MSH-11 T, MSH-15 AL
    "hapi_ADT_A08_v2.2_short.hl7": ("CR", "202", []),
    "hapi_ADT_A08_v2.3.1_tz_offset.hl7": ("AE", "101", []),
    "hapi_ADT_A08_v2.3_quoted_nulls.hl7": ("CE", "100", []),
    "polaris_ACK_AA_v2.3.hl7": ("AR", "100", []),                       # MSH-2 ^~\\&
    "polaris_ADT_A01_v2.3.hl7": ("AA", None, []),                       # INPATIENT not I
    "polaris_ADT_A02_v2.3.hl7": ("AA", None, []),  # INPATIENT is not I: no wardChanged
    "polaris_ADT_A03_v2.3.hl7": ("AA", None, ["Q434830604T435994908X158251A1096#1"]),
    "polaris_ADT_A04_v2.3.hl7": ("AA", None, []),
    "polaris_ADT_A05_v2.3.hl7": ("AA", None, []),
    "polaris_ADT_A08_v2.3.hl7": ("AA", None, []),  # nor patientDataUpdated
    "polaris_ADT_A11_v2.3.hl7": ("CA", None, ["611321918610#1"]),       # MSH-15 AL
    "polaris_ADT_A12_v2.3.hl7": ("AA", None, []),
    "polaris_ADT_A13_v2.3.hl7": ("AA", None, ["Q543961008T545123385X16159A1096#1"]),
    "polaris_ADT_A21_v2.3.hl7": ("AA", None, []),
    "polaris_ADT_A22_v2.3.hl7": ("AA", None, []),
    "polaris_ADT_A38_v2.3.hl7": ("AR", "100", []),  # MSH-2 unreadable: MSH-15 cannot be read
}


def limits_check(samordna, bootstrap, tag, plain):
    """max_connections and idle_timeout_s from a config file, on a third listener."""
    path = "/tmp/%s.limits.yaml" % tag
    with open(path, "w") as f:
        f.write("listener:\n  max_connections: 2\n  idle_timeout_s: 1\n")
    lim = mllp.Listener(samordna, bootstrap, tag, instance=tag + "-limits",
                        extra=["--config", path], log="/tmp/%s.limits.log" % tag)
    lim.events_topic, lim.memory_topic = plain.events_topic, plain.memory_topic
    port = lim.start()
    try:
        # Both connections send at once and read their ACKs only after the third was refused:
        # a connection waiting for the broker is busy, not idle, so the 1 s idle timeout cannot
        # free a slot before the third one arrives however slow the broker is (CI once waited
        # more than 1 s for the second ACK, the first connection idled out, and the third was
        # let in).
        a, b = mllp.Client(port), mllp.Client(port)
        a.send(mllp.adt("A02", "X1", "V-X1"))
        b.send(mllp.adt("A02", "X2", "V-X2"))
        third = mllp.Client(port)
        try:
            third.send(mllp.adt("A02", "X3", "V-X3"))
            answer = third.ack(timeout=5)
        except OSError:  # reset: closed at accept
            answer = None
        check(answer is None, "limits: a third connection is closed at accept")
        third.close()
        check(mllp.msa(a.ack() or b"")[0] == "AA", "limits: first connection served")
        check(mllp.msa(b.ack() or b"")[0] == "AA", "limits: second connection served")

        def closed_by_server(c):
            c.sock.settimeout(15)  # idle_timeout_s is 1: closed long before this
            try:
                return c.sock.recv(1) == b""
            except socket.timeout:
                return False  # still open after 15 s
            except OSError:
                return True  # reset by the server

        check(closed_by_server(a) and closed_by_server(b), "limits: idle connections closed")
        a.close()
        b.close()
        lim.kill(mllp.signal.SIGTERM)
        check(lim.wait(60) == 0, "limits listener exit")
    finally:
        if lim.proc.poll() is None:
            lim.kill()
        os.unlink(path)


def tls_check(samordna, bootstrap, tag, plain):
    import ssl
    if not shutil.which("openssl"):
        check(False, "the openssl command is missing: run deploy/install-deps.sh")
        return []
    key, cert = "/tmp/%s.key" % tag, "/tmp/%s.crt" % tag
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
                   capture_output=True, check=True, timeout=120)
    tls = mllp.Listener(samordna, bootstrap, tag, instance=tag + "-tls",
                        extra=["--tls-cert", cert, "--tls-key", key], log="/tmp/%s.tls.log" % tag)
    tls.events_topic, tls.memory_topic = plain.events_topic, plain.memory_topic
    port = tls.start()
    ids = []
    try:
        context = ssl.create_default_context(cafile=cert)
        context.check_hostname = False
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        s = context.wrap_socket(raw, server_hostname="localhost")
        s.sendall(mllp.frame(mllp.adt("A01", "S1", "V-S1")))
        buf = b""
        while not buf.endswith(mllp.EB + mllp.CR):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        check(b"MSA|AA|S1" in buf, "TLS: %r" % buf)
        ids.append("S1#1")
        s.close()
        # A plain-text client on the TLS port gets no ACK (the handshake fails) and no crash.
        c = mllp.Client(port)
        c.send(mllp.adt("A01", "S2", "V-S2"))
        check(c.ack(timeout=3) is None, "plain text on the TLS port")
        c.close()
        tls.kill(mllp.signal.SIGTERM)
        check(tls.wait(60) == 0, "TLS listener exit")
    finally:
        if tls.proc.poll() is None:
            tls.kill()
        for f in (key, cert):
            os.unlink(f)
    return ids


def main():
    samordna, source = sys.argv[1], sys.argv[2]
    bootstrap = os.environ.get("SAMORDNA_KAFKA_BOOTSTRAP", "")
    shared = os.path.join(source, "..", "shared", "data", "hl7v2")
    if not bootstrap:
        print("skipped: SAMORDNA_KAFKA_BOOTSTRAP is unset")
        return 77
    if not os.path.isdir(shared):
        print("skipped: no", shared)
        return 77
    tag = "hl7listen.%d.%d" % (os.getpid(), random.randrange(1 << 30))
    metrics_port = free_port()
    listener = mllp.Listener(samordna, bootstrap, tag, extra=["--metrics-port", str(metrics_port)])
    port = listener.start()
    expected_ids = []
    try:
        # 1. Every sample, on one kept-alive connection.
        c = mllp.Client(port)
        first_acks = {}
        for name in sorted(EXPECTED):
            code, err, ids = EXPECTED[name]
            data = open(os.path.join(shared, name), "rb").read()
            c.send(data)
            ack = c.ack(timeout=2.0 if code is None else 10.0)
            if code is None:
                check(ack is None, "%s: no ACK is due (MSH-15 NE), got %r" % (name, ack))
                continue
            check(ack is not None, "%s: no ACK within 10 s" % name)
            if ack is None:
                c.close()
                c = mllp.Client(port)
                continue
            got, _ = mllp.msa(ack)
            check(got == code, "%s: MSA-1 %s, expected %s" % (name, got, code))
            if err is not None:
                check(mllp.err_code(ack) == err,
                      "%s: ERR code %s, expected %s" % (name, mllp.err_code(ack), err))
            first_acks[name] = ack
            expected_ids += ids
        c.close()

        # 2. nHapi's crash inputs: each refused with a reason, none crashes or hangs the listener.
        fuzz_dir = os.path.join(shared, "malformed_nhapi_fuzz")
        c = mllp.Client(port)
        for name in sorted(os.listdir(fuzz_dir)):
            c.send(open(os.path.join(fuzz_dir, name), "rb").read())
            ack = c.ack()
            check(ack is not None, "malformed %s: no ACK" % name)
            if ack is None:
                c.close()
                c = mllp.Client(port)
                continue
            code, _ = mllp.msa(ack)
            check(code in ("AR", "CR"), "malformed %s: MSA-1 %s" % (name, code))
            check(b"ERR|" in ack, "malformed %s: no ERR segment" % name)
        c.close()

        # 3. A resend (new connection, as a sender after a timeout) gets the first ACK byte for
        # byte; the same control id with other content gets 205.
        c = mllp.Client(port)
        for name in ("hapi_ADT_A03_v2.5.hl7", "polaris_ADT_A11_v2.3.hl7"):
            c.send(open(os.path.join(shared, name), "rb").read())
            again = c.ack()
            check(again == first_acks.get(name),
                  "%s resent: ACK %r, expected the first %r" % (name, again, first_acks.get(name)))
        changed = open(os.path.join(shared, "hapi_ADT_A03_v2.5.hl7"), "rb").read().replace(
            b"ADT^A03", b"ADT^A03", 1) + b"ZZZ|changed\r"
        c.send(changed)
        ack = c.ack()
        check(ack is not None and mllp.msa(ack)[0] == "AR" and mllp.err_code(ack) == "205",
              "same control id, other content: %r" % ack)
        c.close()

        # 4. Framing as real senders do it: noise and NULs before the start byte, a trailing LF,
        # a frame split byte by byte, two frames in one write.
        c = mllp.Client(port)
        c.send_raw(b"\x00\x00garbage\n" + mllp.frame(mllp.adt("A01", "F1", "V-F1")) + b"\n")
        check(mllp.msa(c.ack() or b"")[0] == "AA", "noise before the frame")
        for byte in mllp.frame(mllp.adt("A01", "F2", "V-F2")):
            c.send_raw(bytes([byte]))
        check(mllp.msa(c.ack() or b"")[0] == "AA", "frame split byte by byte")
        c.send_raw(mllp.frame(mllp.adt("A01", "F3", "V-F3")) + b"\x00" +
                   mllp.frame(mllp.adt("A01", "F4", "V-F4")))
        a3, a4 = c.ack(), c.ack()
        check(mllp.msa(a3 or b"") == ("AA", "F3") and mllp.msa(a4 or b"") == ("AA", "F4"),
              "two frames in one write, answered in order: %r %r" % (a3, a4))
        expected_ids += ["F1#1", "F2#1", "F3#1", "F4#1"]
        c.close()

        # 5. Å, Ä and Ö from a Latin-1 and a UTF-8 sender; enhanced mode; an FHS/BHS batch.
        c = mllp.Client(port)
        c.send(mllp.adt("A01", "L1", "V-L1", charset="8859/1", family="Öberg", given="Åsa Ärla",
                        encoding="latin-1"))
        check(mllp.msa(c.ack() or b"")[0] == "AA", "Latin-1 message")
        c.send(mllp.adt("A01", "U1", "V-U1", charset="UNICODE UTF-8", family="Öberg",
                        given="Åsa Ärla", encoding="utf-8"))
        check(mllp.msa(c.ack() or b"")[0] == "AA", "UTF-8 message")
        c.send(mllp.adt("A01", "E1", "V-E1", accept_ack="AL"))
        check(mllp.msa(c.ack() or b"")[0] == "CA", "enhanced mode: CA")
        batch = (b"FHS|^~\\&|PAS|SUS|SAMORDNA|SE|20250310081500||||F-7\rBHS|^~\\&|PAS|SUS|SAMORDNA|"
                 b"SE|20250310081500||||B-7\r" + mllp.adt("A01", "B1", "V-B1") +
                 mllp.adt("A40", "B2", "V-B2") + b"BTS|2\rFTS|1\r")
        c.send(batch)
        ack = c.ack() or b""
        segs = mllp.segments(ack)
        check(segs and segs[0].startswith(b"FHS|") and segs[1].startswith(b"BHS|") and
              b"MSA|AA|B1" in ack and b"MSA|AR|B2" in ack and b"BTS|2" in ack and
              segs[-1] == b"FTS|1", "batch answer: %r" % ack)
        expected_ids += ["L1#1", "U1#1", "E1#1", "B1#1"]
        c.close()

        # 6. python3-hl7's mllp_send, an independent sender (Debian python3-hl7).
        check(shutil.which("mllp_send") is not None,
              "mllp_send (python3-hl7) missing: run deploy/install-deps.sh")
        if shutil.which("mllp_send"):
            path = "/tmp/%s.msg" % tag
            with open(path, "wb") as f:
                f.write(mllp.adt("A01", "P1", "V-P1"))
            out = subprocess.run(["mllp_send", "--port", str(port), "--file", path, "--loose",
                                  "127.0.0.1"], capture_output=True, timeout=60)
            os.unlink(path)
            check(out.returncode == 0 and b"MSA|AA|P1" in out.stdout.replace(b"\n", b"\r"),
                  "mllp_send: %r %r" % (out.stdout, out.stderr))
            expected_ids.append("P1#1")

        # 7. 200 connections at once, each sends one admission and waits for its ACK.
        results = []
        lock = threading.Lock()

        def one(i):
            try:
                k = mllp.Client(port, timeout=30)
                k.send(mllp.adt("A01", "C%d" % i, "V-C%d" % i))
                a = k.ack(timeout=30)
                with lock:
                    results.append(mllp.msa(a or b"")[0])
                k.sock.settimeout(30)
                time.sleep(0.5)  # keep it open so the 200 overlap
                k.close()
            except OSError as e:
                with lock:
                    results.append(str(e))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(results.count("AA") == 200, "200 connections: %s" % sorted(set(results)))
        expected_ids += ["C%d#1" % i for i in range(200)]

        # 8. TLS: a second listener (another instance, the same topics) with a fresh self-signed
        # certificate; Python's ssl module as the client.
        tls_ids = tls_check(samordna, bootstrap, tag, listener)
        expected_ids += tls_ids
        limits_check(samordna, bootstrap, tag, listener)
        expected_ids += ["X1#1", "X2#1"]  # the two A02s served: wardChanged each
        metrics_check(metrics_port)

        # 9. SIGTERM with a message in flight: it is answered, the listener exits 0.
        c = mllp.Client(port)
        c.send(mllp.adt("A01", "T1", "V-T1"))
        time.sleep(0.001)
        listener.kill(mllp.signal.SIGTERM)
        ack = c.ack(timeout=15)
        check(ack is not None and mllp.msa(ack)[0] in ("AA", "AE"), "in flight at SIGTERM: %r" % ack)
        if ack is not None and mllp.msa(ack)[0] == "AA":
            expected_ids.append("T1#1")
        rc = listener.wait(60)
        check(rc == 0, "exit status after SIGTERM: %s" % rc)
        check("stopped" in listener.stderr(), "a last stats line")

        # The events: every expected one exactly once, nothing else.
        events = mllp.read_events(samordna, bootstrap, listener.events_topic)
        ids = [e["eventId"] for e in events]
        for i in set(ids):
            check(ids.count(i) == 1, "event %s is on the topic %d times" % (i, ids.count(i)))
        check(sorted(set(ids)) == sorted(set(expected_ids)),
              "events: missing %s, unexpected %s" % (sorted(set(expected_ids) - set(ids)),
                                                     sorted(set(ids) - set(expected_ids))))
        for cid in ("L1#1", "U1#1"):
            e = next((e for e in events if e["eventId"] == cid), None)
            text = str(e)
            check(e is not None and "Öberg" in text and "Åsa Ärla" in text,
                  "%s: the name arrives as Öberg / Åsa Ärla: %s" % (cid, text[:300]))
        print("%d events on the topic, %d failures" % (len(events), len(failures)))
    finally:
        if listener.proc.poll() is None:
            listener.kill()
        print(listener.stderr()[-2000:])
        if not failures:
            mllp.delete_topics(source, bootstrap, [listener.events_topic, listener.memory_topic])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

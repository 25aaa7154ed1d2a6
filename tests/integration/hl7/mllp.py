"""Helpers for the `samordna hl7 listen` tests and benchmarks: an MLLP client, the listener as a
process, hand-made ADT messages, and the events topic read back through `samordna consume`.
Standard library only (python3 on Debian 12)."""

import json
import os
import re
import signal
import socket
import subprocess
import time

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"


def frame(message: bytes) -> bytes:
    return SB + message + EB + CR


class Client:
    """One MLLP connection. ack() returns the next ACK (without framing) or None on timeout."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def send(self, message: bytes):
        self.sock.sendall(frame(message))

    def ack(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            start = self.buf.find(SB)
            if start >= 0:
                end = self.buf.find(EB, start)
                if end >= 0:
                    message = self.buf[start + 1:end]
                    rest = end + 1
                    if self.buf[rest:rest + 1] == CR:
                        rest += 1
                    self.buf = self.buf[rest:]
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                return None
            self.buf += chunk

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def segments(ack: bytes):
    return [s for s in ack.split(b"\r") if s]


def msa(ack: bytes):
    """(MSA-1, MSA-2) of an ACK, as text."""
    for s in segments(ack):
        if s.startswith(b"MSA|"):
            f = s.decode("utf-8", "replace").split("|")
            return f[1], (f[2] if len(f) > 2 else "")
    return None, None


def err_code(ack: bytes):
    """The table 0357 code of the ERR segment (v2.5 ERR-3, or ERR-1's 4th component before)."""
    for s in segments(ack):
        if s.startswith(b"ERR|"):
            f = s.decode("utf-8", "replace").split("|")
            if len(f) > 3 and f[3]:
                return f[3].split("^")[0]
            if len(f) > 1:
                comps = f[1].split("^")
                if len(comps) > 3:
                    return comps[3].split("&")[0]
    return None


class Listener:
    """`samordna hl7 listen` on a free port with its own topics."""

    def __init__(self, samordna, bootstrap, tag, extra=(), log=None, instance=None):
        self.samordna, self.bootstrap, self.tag = samordna, bootstrap, tag
        self.events_topic = tag + ".events"
        self.memory_topic = tag + ".memory"
        self.instance = instance or tag
        self.extra = list(extra)
        self.log = log or ("/tmp/" + tag + ".log")
        self.proc = None
        self.port = None

    def start(self, port=0, timeout=60):
        self.errf = open(self.log, "ab")
        start_offset = self.errf.tell()
        self.proc = subprocess.Popen(
            [self.samordna, "hl7", "listen", "--bootstrap", self.bootstrap, "--port", str(port),
             "--instance", self.instance, "--events-topic", self.events_topic,
             "--memory-topic", self.memory_topic] + self.extra,
            stdout=subprocess.DEVNULL, stderr=self.errf, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log, "rb") as f:
                f.seek(start_offset)
                m = re.search(rb"listening on [^:]+:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                return self.port
            if self.proc.poll() is not None:
                raise RuntimeError("listener exited %s: %s" % (self.proc.returncode, self.stderr()))
            time.sleep(0.05)
        raise RuntimeError("listener did not start: " + self.stderr())

    def stderr(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def kill(self, sig=signal.SIGKILL):
        os.killpg(self.proc.pid, sig)

    def wait(self, timeout=60):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.proc.wait()
            return None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.kill(signal.SIGTERM)
            return self.wait()
        return self.proc.returncode if self.proc else None


def read_events(samordna, bootstrap, topic, timeout_ms=5000):
    out = subprocess.run([samordna, "consume", "--bootstrap", bootstrap, "--topic", topic,
                          "--type", "event", "--from-beginning", "--timeout-ms", str(timeout_ms)],
                         capture_output=True, check=True, timeout=600)
    return [json.loads(line) for line in out.stdout.decode("utf-8").splitlines() if line.strip()]


def adt(trigger, control_id, visit, when="20250310081500", charset="", family="Tolvansson",
        given="Tolvan", accept_ack="", encoding="ascii", facility="SUS", pv1_class="I"):
    """A hand-made ADT message (the shape of tests/unit/hl7/episode/1_a01.hl7)."""
    msh = "MSH|^~\\&|PAS|%s|SAMORDNA|SE|%s||ADT^%s^ADT_A01|%s|P|2.5|||%s||SE|%s" % (
        facility, when, trigger, control_id, accept_ack, charset)
    segs = [
        msh,
        "EVN|%s|%s" % (trigger, when),
        "PID|1||191212121212^^^&1.2.752.129.2.1.3.1&ISO^NNSWE||%s^%s||19121212|M|||"
        "Gatan 1^^Stockholm^^11122^SE^H^^0180" % (family, given),
        "PV1|1|%s|MED3^^^SUS||||||||||||||||%s" % (pv1_class, visit),
    ]
    return ("\r".join(segs) + "\r").encode(encoding)


def delete_topics(source, bootstrap, topics):
    """Deletes the test's topics (Kafka's own tool through deploy/kafka/kafka.sh). Best effort, but
    a failure is printed: the class name this called was gone from Kafka 3.9, and every run left its
    topics on the broker unseen."""
    for t in topics:
        r = subprocess.run(["bash", os.path.join(source, "deploy", "kafka", "kafka.sh"), "tool",
                            "org.apache.kafka.tools.TopicCommand", "--bootstrap-server", bootstrap,
                            "--delete", "--topic", t], capture_output=True, text=True, timeout=120)
        if r.returncode != 0 or "Error" in r.stderr:
            print("warning: topic %s not deleted: %s" % (t, (r.stderr or r.stdout).strip()[-300:]))

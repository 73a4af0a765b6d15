#!/usr/bin/env python3
"""MCP client of `make perf` for supervise (spec/supervise.md §11).

Modes (each prints one JSON object on stdout):
  init PORT TRIALS
      a new connection, a 2025-11-25 initialize, notifications/initialized
      and the first tools/list; milliseconds from the dial to the last byte
      of the tools/list answer (§11.1).
  session PORT
      prints {"sid": ...} for wrk's tools/list script.
  decide PORT STATE CONF BIN TRIALS
      TRIALS egress-block calls, one at a time; each is approved by
      `BIN supervise approve` 0-300 ms (at random) after its pending file
      appears; the latency is from `approve` returning to the result
      reaching the client (§11.2).
  waits PORT STATE PID CALLS PROPOSALS
      CALLS concurrent egress-block calls over PROPOSALS distinct hosts;
      RSS and threads of PID before and once every call waits (§11.4).

Only the standard library, so it runs wherever `make perf` does.  Every
socket has a timeout: a server that stops answering fails the mode, it
does not hang it.
"""
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time

REV = "2025-11-25"
TIMEOUT = 90.0


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


class Conn:
    """One keep-alive HTTP/1.1 connection, parsed by hand so nothing is
    hidden: Content-Length bodies and (for waiting calls) an SSE stream."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.s.close()

    def send(self, body, sid=None, accept="application/json, text/event-stream"):
        b = json.dumps(body).encode()
        h = ["POST /mcp HTTP/1.1", "Host: 127.0.0.1",
             "Content-Type: application/json", "Accept: " + accept,
             "Content-Length: %d" % len(b)]
        if sid:
            h += ["Mcp-Session-Id: " + sid, "MCP-Protocol-Version: " + REV]
        self.s.sendall(("\r\n".join(h) + "\r\n\r\n").encode() + b)

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("server closed the connection")
        self.buf += d

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdr = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdr[k.strip().lower()] = v.strip()
        return status, hdr

    def body(self, hdr):
        n = int(hdr.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        b, self.buf = self.buf[:n], self.buf[n:]
        return b

    def chunk(self):
        """One chunk of a chunked body (b"" at its end)."""
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        n = int(line.split(b";")[0], 16)
        while len(self.buf) < n + 2:
            self._fill()
        c, self.buf = self.buf[:n], self.buf[n + 2:]
        return c

    def rpc(self, body, sid=None):
        """A request whose answer is JSON or an SSE stream; returns the
        JSON-RPC response with the request's id."""
        self.send(body, sid)
        status, hdr = self.head()
        if status != 200 and status != 202:
            raise RuntimeError("HTTP %d" % status)
        if "text/event-stream" not in hdr.get("content-type", ""):
            b = self.body(hdr)
            return hdr, (json.loads(b) if b else None)
        if hdr.get("transfer-encoding", "").lower() != "chunked":
            raise RuntimeError("SSE answer is not chunked")
        pend = b""
        while True:
            c = self.chunk()
            if c == b"":
                raise EOFError("SSE stream ended without the response")
            pend += c
            while b"\n\n" in pend:
                ev, pend = pend.split(b"\n\n", 1)
                data = b"".join(l[5:].strip() for l in ev.split(b"\n")
                                if l.startswith(b"data:"))
                if not data:
                    continue
                m = json.loads(data)
                if m.get("id") == body.get("id"):
                    # Drain the end of the stream so the connection can
                    # be reused.
                    while self.chunk() != b"":
                        pass
                    return hdr, m


def initialize(c):
    hdr, _ = c.rpc({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                    "params": {"protocolVersion": REV, "capabilities": {},
                               "clientInfo": {"name": "perf", "version": "1"}}})
    sid = hdr["mcp-session-id"]
    c.rpc({"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
    return sid


def mode_init(port, trials):
    ms = []
    for _ in range(trials):
        t0 = time.perf_counter()
        c = Conn(port)
        sid = initialize(c)
        _, r = c.rpc({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, sid)
        t1 = time.perf_counter()
        if len(r["result"]["tools"]) != 4:
            raise RuntimeError("tools/list: not four tools")
        c.close()
        ms.append((t1 - t0) * 1000)
    return {"trials": trials, "p50_ms": statistics.median(ms),
            "p99_ms": pct(ms, 99), "max_ms": max(ms)}


def block(host, i):
    return {"jsonrpc": "2.0", "id": 100 + i, "method": "tools/call",
            "params": {"name": "egress-block",
                       "arguments": {"host": host,
                                     "justification": "perf trial %d" % i}}}


def pending_ids(state):
    d = os.path.join(state, "supervise", "pending")
    try:
        return [f[:-5] for f in os.listdir(d)
                if f.endswith(".json") and not f.startswith(".")]
    except FileNotFoundError:
        return []


def mode_decide(port, state, conf, binary, trials):
    lat, bad = [], 0
    for i in range(trials):
        c = Conn(port)
        sid = initialize(c)
        got = {}

        def call():
            try:
                _, m = c.rpc(block("t%d-%d.perf.test" % (os.getpid(), i), i), sid)
                got["t"] = time.perf_counter()
                got["m"] = m
            except Exception as e:  # reported below as a failed trial
                got["err"] = str(e)

        th = threading.Thread(target=call)
        th.start()
        deadline = time.monotonic() + 20
        ids = []
        while not ids and time.monotonic() < deadline:
            ids = pending_ids(state)
            time.sleep(0.002)
        if len(ids) != 1:
            raise RuntimeError("trial %d: %d pending proposals" % (i, len(ids)))
        # An operator answers at a moment unrelated to the server's poll
        # phase: without this, every trial would land at the same phase.
        time.sleep(random.uniform(0, 0.3))
        r = subprocess.run([binary, "supervise", "--state-dir", state,
                            "--config-dir", conf, "approve", ids[0]],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        t0 = time.perf_counter()
        if r.returncode != 0:
            raise RuntimeError("approve: exit %d: %s" % (r.returncode,
                                                         r.stderr.decode()))
        th.join(TIMEOUT)
        c.close()
        if "t" not in got:
            raise RuntimeError("trial %d: no answer (%s)" % (i, got.get("err")))
        text = json.dumps(got["m"].get("result", {}))
        if "approved" not in text:
            bad += 1
        lat.append((got["t"] - t0) * 1000)
    return {"trials": trials, "not_approved": bad,
            "p50_ms": statistics.median(lat), "p99_ms": pct(lat, 99),
            "max_ms": max(lat)}


def proc_status(pid):
    st = {}
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            k, _, v = ln.partition(":")
            st[k] = v.strip()
    return int(st["VmRSS"].split()[0]), int(st["Threads"])


def mode_waits(port, state, pid, calls, proposals):
    rss0, thr0 = proc_status(pid)
    # 2025-11-25 sessions: session_limit (64) caps sessions, not calls, so
    # the calls share ten sessions.
    sids = []
    for _ in range(10):
        c = Conn(port)
        sids.append(initialize(c))
        c.close()
    conns, errs = [], []
    for i in range(calls):
        c = Conn(port)
        c.send(block("w%d.perf.test" % (i % proposals), i), sids[i % 10])
        conns.append(c)
    # Each call is waiting once its SSE head has arrived.
    for c in conns:
        st, hdr = c.head()
        if st != 200 or "text/event-stream" not in hdr.get("content-type", ""):
            errs.append(st)
    deadline = time.monotonic() + 10
    while len(pending_ids(state)) < proposals and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    rss1, thr1 = proc_status(pid)
    npend = len(pending_ids(state))
    for c in conns:
        c.close()
    return {"calls": calls, "proposals": npend, "not_waiting": len(errs),
            "rss_before_kib": rss0, "rss_waiting_kib": rss1,
            "rss_growth_kib": rss1 - rss0, "threads_before": thr0,
            "threads_waiting": thr1}


def main(a):
    if a[0] == "init":
        out = mode_init(int(a[1]), int(a[2]))
    elif a[0] == "session":
        c = Conn(int(a[1]))
        out = {"sid": initialize(c)}
        c.close()
    elif a[0] == "decide":
        out = mode_decide(int(a[1]), a[2], a[3], a[4], int(a[5]))
    elif a[0] == "waits":
        out = mode_waits(int(a[1]), a[2], int(a[3]), int(a[4]), int(a[5]))
    else:
        sys.exit("sv_client.py: unknown mode " + a[0])
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])

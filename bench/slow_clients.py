#!/usr/bin/env python3
"""Issue 8's slow-client targets: how much do slow clients delay a normal
GET /echo, and where do the bytes they are owed go?

For each scenario, valved serves bench/api.R with n_max = n_min = N (all
children ready before measuring); K slow clients connect (uploaders send a
100-byte body at 1 byte/s; readers fetch a 16 MiB /big through a 4 KiB
receive buffer at 1 KiB/s); then 20 sequential GET /echo are timed and
compared with 20 timed before the slow clients came. Also printed: the
workers' RSS and the bytes in their temporary files (open, unlinked files
seen through /proc/<pid>/fd) while the slow clients hang on.

Loopback only; every wait is bounded; only the processes started here are
stopped (valved's process group). Usage:
  bench/slow_clients.py [path/to/valved]     (default build/valved)
"""
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VALVED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "valved")
API = os.path.join(ROOT, "bench", "api.R")
HOLD_SECONDS = 60  # longest a slow client hangs on


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed_echo(port):
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"GET /echo?msg=hi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    if not data.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("GET /echo: " + data[:80].decode(errors="replace"))
    return (time.monotonic() - start) * 1000


def echo_latencies(port, count=20):
    return [timed_echo(port) for _ in range(count)]


def slow_uploader(port, stop):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=HOLD_SECONDS) as s:
            s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100\r\n\r\n")
            for _ in range(100):
                if stop.wait(1.0):
                    return
                s.sendall(b" ")
    except OSError:
        pass


def slow_reader(port, stop):
    try:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(HOLD_SECONDS)
        s.connect(("127.0.0.1", port))
        with s:
            s.sendall(b"GET /big?mib=16 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while not stop.wait(1.0):
                if not s.recv(1024):
                    return
    except OSError:
        pass


def worker_pids(master):
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if ppid == master and (argv[0].startswith(b"valved: worker") or argv[1:2] == [b"worker"]):
            pids.append(int(name))
    return pids


def worker_memory(master):
    """(RSS in KiB, bytes in unlinked temporary files) summed over workers."""
    rss = temp = 0
    for pid in worker_pids(master):
        try:
            with open(f"/proc/{pid}/status") as f:
                rss += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            for fd in os.listdir(f"/proc/{pid}/fd"):
                path = f"/proc/{pid}/fd/{fd}"
                if os.readlink(path).endswith("(deleted)"):
                    temp += os.stat(path).st_blocks * 512
        except (OSError, StopIteration):
            continue
    return rss, temp


def r_settled(status_port, served):
    """True once R has served `served` requests and holds none."""
    with socket.create_connection(("127.0.0.1", status_port), timeout=10) as s:
        s.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    children = json.loads(data.split(b"\r\n\r\n", 1)[1])["children"]
    return (sum(c["requests"] for c in children) >= served and
            all(c["leases"] == 0 for c in children))


def settle(kind, status_port, served):
    """Uploaders never reach R (their bodies are incomplete): give them 3 s to
    connect. Readers' requests do: wait (at most 120 s) until R has produced
    every response, so that /echo is not measured queued behind them."""
    time.sleep(3)
    if kind == "uploaders":
        return
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not r_settled(status_port, served):
        time.sleep(0.5)


def wait_ready(log_path, n, seconds=180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with open(log_path) as f:
            if f.read().count("Spawning -> Ready") >= n:
                return
        time.sleep(0.1)
    raise RuntimeError(f"valved did not get {n} children ready in {seconds} s; see {log_path}")


def scenario(work, n, kind, count, buffering, limit):
    port, status_port = free_port(), free_port()
    config = os.path.join(work, "valve.yaml")
    with open(config, "w") as f:
        f.write(f"request_buffering: {buffering}\nresponse_buffering: {buffering}\n"
                f"temp_file_limit: {limit}\nstatus_listen: 127.0.0.1:{status_port}\n")
    log_path = os.path.join(work, f"valved-{n}-{kind}-{count}-{buffering}.log")
    args = [VALVED, "-c", config, "-f", API, "-p", str(port), "-n", str(n), "--n-min", str(n),
            "-w", "1", "--max-age", "3600"]
    if os.getuid() == 0:
        args.append("--allow-root")
    with open(log_path, "w") as log:
        valved = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    stop = threading.Event()
    threads = []
    try:
        wait_ready(log_path, n)
        timed_echo(port)  # every child's first request is not the one measured
        before = echo_latencies(port)
        client = slow_uploader if kind == "uploaders" else slow_reader
        threads = [threading.Thread(target=client, args=(port, stop)) for _ in range(count)]
        for t in threads:
            t.start()
        settle(kind, status_port, 1 + len(before) + count)
        try:
            during = echo_latencies(port)
            failed = ""
        except (OSError, RuntimeError) as e:
            during, failed = [], str(e)
        rss, temp = worker_memory(valved.pid)
    finally:
        stop.set()
        for t in threads:
            t.join(HOLD_SECONDS)
        os.killpg(valved.pid, signal.SIGTERM)
        try:
            valved.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(valved.pid, signal.SIGKILL)
            valved.wait()
    base = statistics.median(before)
    if failed:
        return [n, kind, count, buffering, limit, f"{base:.1f}", "—", "—", failed, rss // 1024,
                temp >> 20]
    med = statistics.median(during)
    return [n, kind, count, buffering, limit, f"{base:.1f}", f"{med:.1f}", f"{max(during):.1f}",
            f"{med - base:+.1f}", rss // 1024, temp >> 20]


def main():
    scenarios = [(2, "uploaders", 2, "true", "1g"), (2, "readers", 2, "true", "1g"),
                 (4, "uploaders", 200, "true", "1g"), (4, "readers", 200, "true", "4g"),
                 (4, "readers", 200, "true", "1g"),
                 (2, "uploaders", 2, "false", "1g"), (2, "readers", 2, "false", "1g")]
    print(f"load average {os.getloadavg()[0]:.1f}; GET /echo times in ms (20 sequential)")
    print("| n_max | slow clients | K | buffering | temp_file_limit | /echo median before "
          "| median with them | max with them | delay (median) | workers' RSS MiB "
          "| temp files MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for n, kind, count, buffering, limit in scenarios:
            row = scenario(work, n, kind, count, buffering, limit)
            print("| " + " | ".join(str(x) for x in row) + " |", flush=True)


if __name__ == "__main__":
    main()

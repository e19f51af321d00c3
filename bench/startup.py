#!/usr/bin/env python3
"""Startup time of `cirrus serve`: spawn -> first HTTP 200 from GET /readyz.

Each run starts the binary on a free loopback port with a brand-new, empty
data dir, polls /readyz every --interval-ms (a new TCP connection per poll),
then sends SIGTERM and checks the process drains and exits 0. Prints a JSON
summary on stdout. The environment (admin creds etc.) is inherited;
CIRRUS_LISTEN and CIRRUS_DATA_DIR are set per run and CIRRUS_DATABASE_URL is
removed (SQLite in the data dir).
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def one_run(binary, interval, timeout, log_path):
    data_dir = tempfile.mkdtemp(prefix="cirrus-bench-start-")
    port = free_port()
    env = dict(os.environ)
    env.pop("CIRRUS_DATABASE_URL", None)
    env["CIRRUS_LISTEN"] = f"127.0.0.1:{port}"
    env["CIRRUS_DATA_DIR"] = data_dir
    try:
        with open(log_path, "ab") as log:
            t0 = time.perf_counter()
            proc = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=log,
                                    stdin=subprocess.DEVNULL)
            try:
                while True:
                    if ready(port):
                        startup = time.perf_counter() - t0
                        break
                    if proc.poll() is not None:
                        sys.exit(f"startup: cirrus exited with {proc.returncode} before ready; see {log_path}")
                    if time.perf_counter() - t0 > timeout:
                        sys.exit(f"startup: /readyz not 200 within {timeout}s; see {log_path}")
                    time.sleep(interval)
                t1 = time.perf_counter()
                proc.send_signal(signal.SIGTERM)
                rc = proc.wait(timeout=30)
                stop = time.perf_counter() - t1
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        return startup, stop, rc
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--binary", required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--interval-ms", type=float, default=5.0)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--log", default=os.devnull)
    args = p.parse_args()

    starts, stops, codes = [], [], []
    for _ in range(args.runs):
        s, t, rc = one_run(args.binary, args.interval_ms / 1000, args.timeout, args.log)
        starts.append(round(s * 1000, 1))
        stops.append(round(t * 1000, 1))
        codes.append(rc)
    print(json.dumps({
        "startup_ms": starts,
        "best_ms": min(starts),
        "median_ms": statistics.median(starts),
        "sigterm_exit_ms": stops,
        "exit_codes": codes,
        "interval_ms": args.interval_ms,
    }))


if __name__ == "__main__":
    main()

"""`make run-sharded`: the sharded nightly run on Celery, all on this machine.

Starts Redis (Debian's `redis-server`) on 127.0.0.1 and a free port, `--workers` Celery worker
processes of `dagster_celery.app` (one task at a time each), runs `pipelines.sharded` with
`PROGRESS_SHARDED=1` and the broker set, then stops the workers and Redis. Across machines the
same pieces run apart: Redis on one host, `celery -A dagster_celery.app worker` on each worker
machine (the same code and `PROGRESS_*` settings, the warehouse file on a shared filesystem
and the lake on S3), and Dagster's instance on Postgres (`postgres_instance`; README: Running
at scale). `--postgres-url` puts this machine's run in such an instance too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A throwaway Redis on 127.0.0.1 (no persistence); yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server is not installed (make system-deps)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)


@contextmanager
def celery_workers(
    broker: str, count: int, env: Mapping[str, str], logs: Path
) -> Iterator[list[Path]]:
    """`count` Celery worker processes of `dagster_celery.app`, one task at a time each;
    yields their log files."""
    config = logs / "celery_config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "dagster_celery_config.py").write_text(
        f"broker_url = {broker!r}\nresult_backend = {broker!r}\nworker_prefetch_multiplier = 1\n"
    )
    path = os.pathsep.join(p for p in (str(config), env.get("PYTHONPATH", "")) if p)
    worker_env = {**env, "PYTHONPATH": path}
    celery = str(Path(sys.executable).with_name("celery"))
    files = [logs / f"worker-{n}.log" for n in range(1, count + 1)]
    processes = []
    try:
        for n, log in enumerate(files, start=1):
            command = [celery, "-A", "dagster_celery.app", "worker", "--concurrency", "1"]
            command += ["--prefetch-multiplier", "1", "-n", f"w{n}@%h", "--loglevel", "INFO"]
            with log.open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        command, env=worker_env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
                    )
                )
        _wait_ready(files, processes)
        yield files
    finally:
        for process in processes:
            _stop(process)


def _wait_ready(logs: list[Path], processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 120
    while not all("ready." in log.read_text(errors="replace") for log in logs):
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            tails = "\n".join(log.read_text(errors="replace")[-2000:] for log in logs)
            raise RuntimeError(f"a Celery worker did not start:\n{tails}")
        time.sleep(0.2)


def postgres_instance(home: Path, postgres_url: str) -> Path:
    """Write `home/dagster.yaml` keeping Dagster's instance (runs, events, schedules) in
    Postgres (`dagster-postgres`), as every machine of a multi-machine setup does, so the
    driver and every Celery worker see the same runs; returns the file. The URL names the
    psycopg2 driver: SQLAlchemy 2.1 defaults to psycopg 3, whose server-side parameters
    Postgres rejects in the event log's `NOTIFY run_events, $1`."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    url = postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    config.write_text(f"storage:\n  postgres:\n    postgres_url: {url!r}\n")
    return config


def run_on_celery(workers: int, env: Mapping[str, str], folder: Path) -> list[Path]:
    """Redis, `workers` Celery workers and the sharded run (`workers` bucket runs at a time)
    in a subprocess with `env`; returns the workers' log files (kept in `folder`)."""
    with redis_server(folder) as broker:
        run_env = {**env, "PROGRESS_SHARDED": "1", "PROGRESS_CELERY_BROKER": broker}
        with celery_workers(broker, workers, run_env, folder) as logs:
            command = [sys.executable, "-m", "pipelines.sharded", "--workers", str(workers)]
            subprocess.run(command, env=run_env, cwd=ROOT, check=True)
    return logs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--postgres-url", help="keep Dagster's instance in this Postgres database (a new home)"
    )
    args = parser.parse_args(argv)
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise SystemExit("DAGSTER_HOME must be set: the workers read the runs from the instance")
    with tempfile.TemporaryDirectory(prefix="celery-", dir=home) as folder:
        env = dict(os.environ)
        if args.postgres_url:
            env["DAGSTER_HOME"] = str(
                postgres_instance(Path(folder) / "home", args.postgres_url).parent
            )
        logs = run_on_celery(args.workers, env, Path(folder))
        for log in logs:
            steps = log.read_text(errors="replace").count("succeeded in")
            print(f"{log.stem}: {steps} step(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

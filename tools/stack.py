"""Starts and stops the whole stack: Rasa server, action server, gateway.

`make run` calls `python -m tools.stack`; the end-to-end tests use `Stack` with their own ports
and database. Every process but the gateway listens on loopback only. Ctrl-C (or SIGTERM)
stops every process the stack started, each with its children.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
APP_PY = REPO / ".venv" / "bin" / "python"
RASA = REPO / ".venv-rasa" / "bin" / "rasa"


@dataclass
class Ports:
    gateway: int = 8000
    rasa: int = 5005
    actions: int = 5055


@dataclass
class Stack:
    ports: Ports = field(default_factory=Ports)
    database_url: str | None = None
    log_dir: Path = REPO / "var" / "log"
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. channel settings
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.rasa}"

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.actions}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "PYTHONPATH": str(REPO),
                "PYTHONUNBUFFERED": "1",
                "RASA_TELEMETRY_ENABLED": "false",
                "HF_HUB_OFFLINE": env.get("HF_HUB_OFFLINE", "1"),
                "TOKENIZERS_PARALLELISM": "false",
                # numpy's BLAS threads and torch's fight over two cores: retrieval went from 18 to
                # 48 ms a query (bench/README.md). torch keeps the cores; numpy gets one thread.
                "OPENBLAS_NUM_THREADS": "1",
                "SANIC_HOST": "127.0.0.1",
                "ACTION_ENDPOINT_URL": f"{self.action_url}/webhook",
                "RASA_URL": self.rasa_url,
                "ACTION_SERVER_URL": self.action_url,
                "PORT": str(self.ports.gateway),
            }
        )
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def _start(self, name: str, cmd: list[str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_actions(self) -> None:
        self._start(
            "actions", [str(APP_PY), "-m", "actions.server", "--port", str(self.ports.actions)]
        )

    def start_rasa(self) -> None:
        self._start(
            "rasa",
            [
                str(RASA),
                "run",
                "--enable-api",
                "-i",
                "127.0.0.1",
                "-p",
                str(self.ports.rasa),
                "--model",
                "models",
                "--endpoints",
                "endpoints.yml",
                "--credentials",
                "credentials.yml",
            ],
        )

    def start_gateway(self) -> None:
        self._start("gateway", [str(APP_PY), "-m", "gateway.app"])

    def start(self) -> None:
        self.start_actions()
        self.start_rasa()
        self.start_gateway()

    def health(self) -> tuple[int, dict]:
        try:
            r = httpx.get(f"{self.gateway_url}/health", timeout=5)
            return r.status_code, r.json()
        except (httpx.HTTPError, ValueError):
            return 0, {}

    def wait_healthy(self, timeout_s: float = 300, progress=None) -> dict:
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {proc.returncode}; see "
                        f"{self.log_dir / (name + '.log')}\n{self.tail(name)}"
                    )
            status, body = self.health()
            if status == 200:
                return body
            waiting = sorted(k for k, v in (body.get("components") or {}).items() if not v["ok"])
            if progress and waiting != last:
                progress(f"    waiting for: {', '.join(waiting) or 'gateway'}")
                last = waiting
            time.sleep(1)
        raise TimeoutError(f"stack not healthy after {timeout_s}s: {self.health()[1]}")

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )

    def stop(self, name: str | None = None, timeout_s: float = 15) -> None:
        names = [name] if name else list(self.procs)
        for n in names:
            proc = self.procs.get(n)
            if proc and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for n in names:
            proc = self.procs.pop(n, None)
            if proc is None:
                continue
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    stack = Stack(ports=Ports(gateway=port))
    # Installed explicitly: a shell starting us in the background passes SIGINT on as ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    print(
        f"Starting Rasa, the action server and the gateway (logs in {stack.log_dir}) ...",
        flush=True,
    )
    try:
        stack.start()
        stack.wait_healthy(progress=lambda m: print(m, flush=True))
        print(
            f"\nReady in {time.monotonic() - started:.0f}s.\n"
            f"  Gateway:       http://localhost:{port}  (health: /health)\n"
            f"  REST channel:  POST http://localhost:{port}/webhooks/rest/webhook\n"
            f"  Chat here:     make chat   (in another terminal)\n"
            f"Press Ctrl-C to stop.",
            flush=True,
        )
        while all(p.poll() is None for p in stack.procs.values()):
            time.sleep(1)
        dead = [n for n, p in stack.procs.items() if p.poll() is not None]
        print(f"{', '.join(dead)} stopped unexpectedly:\n{stack.tail(dead[0])}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"Start-up failed: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())

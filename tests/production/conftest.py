"""Fixtures for the production tests: agents that always agree with themselves, and a real redis-server.

Redis (tests marked ``real``): one approach, whatever the machine. If ``GUARDRAIL_REDIS_URL`` is set (CI runs
``bash scripts/ci/redis.sh start`` and exports it), the tests use that server and fail loudly if it does not
answer. If it is unset, the session starts its own server with ``scripts/ci/redis.sh`` (port picked free,
state in a temporary directory; the script installs redis-server with apt-get if it is missing) and stops
it at the end. A missing or broken server is a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REDIS_SH = REPO / "scripts" / "ci" / "redis.sh"


def answer(action: str) -> str:
    """An answer whose rationale and action agree on ``action`` (so the guard never intervenes)."""
    return f"{action} looks best on the evidence so far, so I should choose {action}.\nACTION={action}"


def agent_for(action: str) -> Callable[[object], str]:
    """A synchronous agent that always answers ``action`` consistently."""

    def agent(prompt: object) -> str:
        return answer(action)

    return agent


def _start_redis(state_dir: Path) -> str:
    env = {**os.environ, "GUARDRAIL_REDIS_DIR": str(state_dir), "GUARDRAIL_REDIS_PORT": "0"}
    done = subprocess.run(["bash", str(REDIS_SH), "start"], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"could not start redis-server with {REDIS_SH}:\n{done.stderr}", pytrace=False)
    line = next(x for x in done.stdout.splitlines() if x.startswith("GUARDRAIL_REDIS_URL="))
    return line.split("=", 1)[1]


def _stop_redis(state_dir: Path) -> None:
    env = {**os.environ, "GUARDRAIL_REDIS_DIR": str(state_dir)}
    subprocess.run(["bash", str(REDIS_SH), "stop"], env=env, capture_output=True, check=False)


def _ping(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        client.ping()
    except redis.exceptions.RedisError as error:
        pytest.fail(f"GUARDRAIL_REDIS_URL={url} does not answer PING: {error}", pytrace=False)
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a running redis-server: ``GUARDRAIL_REDIS_URL``, or one this session starts and stops."""
    url = os.environ.get("GUARDRAIL_REDIS_URL")
    if url:
        _ping(url)
        yield url
        return
    state_dir = tmp_path_factory.mktemp("redis")
    url = _start_redis(state_dir)
    try:
        _ping(url)
        yield url
    finally:
        _stop_redis(state_dir)


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other test uses, so tests sharing one server never see each other's episodes."""
    return f"guardrail-test:{uuid.uuid4().hex}:"


@dataclass
class PausableRedis:
    """A redis-server of this test alone, which can be frozen (SIGSTOP) and thawed (SIGCONT)."""

    url: str
    pid: int

    def freeze(self) -> None:
        """Stop the server process: it keeps its data but answers nothing (clients time out)."""
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """Let the server run again."""
        os.kill(self.pid, signal.SIGCONT)


@pytest.fixture
def pausable_redis(tmp_path: Path) -> Iterator[PausableRedis]:
    """A private redis-server (started with scripts/ci/redis.sh), thawed and stopped after the test."""
    state_dir = tmp_path / "redis"
    url = _start_redis(state_dir)
    server = PausableRedis(url=url, pid=int((state_dir / "redis.pid").read_text().strip()))
    try:
        yield server
    finally:
        server.thaw()
        _stop_redis(state_dir)


@dataclass
class RestartableRedis:
    """A private redis-server without persistence that can be killed (-9), frozen and restarted on its port."""

    state_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        return int((self.state_dir / "redis.pid").read_text().strip())

    def start(self) -> None:
        env = {**os.environ, "GUARDRAIL_REDIS_DIR": str(self.state_dir), "GUARDRAIL_REDIS_PORT": str(self.port)}
        done = subprocess.run(["bash", str(REDIS_SH), "start"], env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr

    def kill(self) -> None:
        """kill -9: the server dies at once; without persistence its data is gone."""
        pid = self.pid
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def freeze(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        env = {**os.environ, "GUARDRAIL_REDIS_DIR": str(self.state_dir)}
        subprocess.run(["bash", str(REDIS_SH), "stop"], env=env, capture_output=True, check=False)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RestartableRedis]:
    """A redis-server of this test alone, without persistence, on a free port; thawed and stopped after it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    redis = RestartableRedis(tmp_path / "redis", port)
    redis.start()
    try:
        yield redis
    finally:
        with contextlib.suppress(ProcessLookupError, FileNotFoundError, ValueError):
            redis.thaw()
        redis.stop()

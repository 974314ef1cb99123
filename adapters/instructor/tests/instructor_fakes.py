"""A scripted OpenAI-compatible chat endpoint behind ``httpx2.MockTransport``: the real openai + instructor stack, no
network. Each request pops the next scripted reply and is recorded (``requests``: the JSON bodies)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import httpx2
import instructor
import openai

BASE_URL = "http://scripted.invalid/v1"


def answer(rationale: str, action: str, **extra: Any) -> str:
    """The JSON text of one answer."""
    return json.dumps({"rationale": rationale, "action": action, **extra})


class ScriptedChat:
    """Replies with the scripted contents in order; a dict reply is sent as its JSON, an int as an HTTP error."""

    def __init__(self, replies: Iterable[str | dict[str, Any] | int], *, finish_reason: str = "stop") -> None:
        self.replies = list(replies)
        self.finish_reason = finish_reason
        self.requests: list[dict[str, Any]] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        if len(self.requests) > len(self.replies):
            return httpx2.Response(500, json={"error": {"message": "script exhausted"}})
        reply = self.replies[len(self.requests) - 1]
        if isinstance(reply, int):
            return httpx2.Response(reply, json={"error": {"message": f"scripted HTTP {reply}"}})
        content = reply if isinstance(reply, str) else json.dumps(reply)
        return httpx2.Response(
            200,
            json={
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "scripted"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": self.finish_reason,
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            },
        )

    def client(self) -> instructor.Instructor:
        """A sync instructor client in JSON mode talking to this script."""
        transport = httpx2.MockTransport(self.handle)
        raw = openai.OpenAI(
            api_key="test", base_url=BASE_URL, max_retries=0, http_client=httpx2.Client(transport=transport)
        )
        return instructor.from_openai(raw, mode=instructor.Mode.JSON)

    def async_client(self) -> instructor.AsyncInstructor:
        """An async instructor client in JSON mode talking to this script."""
        transport = httpx2.MockTransport(self.handle)
        raw = openai.AsyncOpenAI(
            api_key="test", base_url=BASE_URL, max_retries=0, http_client=httpx2.AsyncClient(transport=transport)
        )
        return instructor.from_openai(raw, mode=instructor.Mode.JSON)

    def last_user_message(self, index: int) -> str:
        """The text of request ``index``'s last user message."""
        users = [m for m in self.requests[index]["messages"] if m["role"] == "user"]
        content = users[-1]["content"]
        return content if isinstance(content, str) else json.dumps(content)

"""Fast unit tests of guardrail-langchain (fake chat models; no network, no real model)."""

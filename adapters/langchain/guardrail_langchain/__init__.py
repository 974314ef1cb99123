"""guardrail adapter (content arrives with the adapters issue)."""

"""guardrail inside instructor: response models that refuse a knowing-doing gap, and a guarded client.

- :func:`decision_model` builds a response model (rationale, optional ``intended_action``, ``action`` as a
  ``Literal`` of the legal actions) whose validators raise on an illegal action or a knowing-doing gap, so that
  instructor's own re-ask sends the error back to the model.
- :class:`GuardedInstructor` runs a :class:`guardrail.Guard` around instructor's ``create`` / async ``create``:
  the Guard's policies and telemetry apply, and instructor's retries count as agent calls.
- :class:`JudgeReader` asks a model, through instructor, which action a rationale recommends (an answer constrained
  to the action names or "none"), for ``guardrail.CascadeReader(LexicalReader(), JudgeReader(client))`` where the
  lexical reader abstains.

The public surface is what ``__all__`` lists.
"""

from guardrail_instructor._client import GuardedInstructor, MaxRetries, adapt_guard
from guardrail_instructor._judge import JudgeReader, judge_model
from guardrail_instructor._models import DecisionModel, DecisionSpec, decision_model, models_action_space
from guardrail_instructor._parsing import RejectedResponse, ResponseParser
from guardrail_instructor._prompter import MessagesPrompter

__all__ = [
    "DecisionModel",
    "DecisionSpec",
    "GuardedInstructor",
    "JudgeReader",
    "MaxRetries",
    "MessagesPrompter",
    "RejectedResponse",
    "ResponseParser",
    "adapt_guard",
    "decision_model",
    "judge_model",
    "models_action_space",
]

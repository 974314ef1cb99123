"""A Guard in a child process, driven over a pipe; used by the two-process Redis test."""

from __future__ import annotations

from multiprocessing.connection import Connection

from tests.production.conftest import agent_for


def serve(url: str, prefix: str, actions: list[str], conn: Connection) -> None:
    """Run commands from ``conn`` against a Guard backed by a RedisHistoryStore, replying to each one.

    Commands: ``("step", episode, action)`` -> step index; ``("reward", episode, value)`` -> None;
    ``("view", episode)`` -> the view as a dict; ``("steps", episode, [actions])`` -> step indices;
    ``("stop",)`` ends the loop.
    """
    from dataclasses import asdict

    from guardrail import Guard
    from guardrail.stores import RedisHistoryStore

    store = RedisHistoryStore(url, prefix=prefix, socket_timeout=5.0)
    with Guard(actions, history=store, seed=0) as guard:
        while True:
            command = conn.recv()
            if command[0] == "stop":
                break
            try:
                if command[0] == "step":
                    reply: object = guard.step(agent_for(command[2]), "choose", episode=command[1]).step
                elif command[0] == "reward":
                    guard.record_reward(command[1], command[2])
                    reply = None
                elif command[0] == "steps":
                    reply = [guard.step(agent_for(a), "choose", episode=command[1]).step for a in command[2]]
                else:
                    reply = asdict(guard.view(command[1]))
            except Exception as error:  # report to the parent instead of dying silently
                reply = error
            conn.send(reply)
    store.close()
    conn.close()

"""Vanna's message helpers as its OpenAI_Chat shapes them, for the test doubles of VannaBase (the prompt probe,
the vector-store reader): one copy, so both tests build the messages Vanna itself would."""
from __future__ import annotations


class VannaMessages:
    """system_message / user_message / assistant_message of vanna's OpenAI_Chat (abstract in VannaBase); put it
    before a Vanna base class so it fills those abstract methods."""

    def system_message(self, message):
        return {"role": "system", "content": message}

    def user_message(self, message):
        return {"role": "user", "content": message}

    def assistant_message(self, message):
        return {"role": "assistant", "content": message}

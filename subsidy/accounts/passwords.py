"""Which new staff passwords are too easy to guess: zxcvbn's estimate of the guesses needed,
against its lists of common passwords, words and keyboard patterns and against the user's own
data (username, name, phone) and the demo's published password. "password1", "abcdefg1",
"user0123" and "demo2024" all fall below PASSWORD_MIN_SCORE; a longer phrase passes."""
from __future__ import annotations

from flask import current_app
from zxcvbn import zxcvbn

MAX_LENGTH = 128  # zxcvbn's matching grows with the length; nobody types more


def weakness(password: str, own: list[str | None]) -> str | None:
    """Why `password` is refused, in the clerk's words, or None."""
    if len(password) > MAX_LENGTH:
        return f"密码不超过 {MAX_LENGTH} 位"
    from subsidy.demo import DEMO_PASSWORD

    inputs = [x for x in own if x] + [DEMO_PASSWORD]
    result = zxcvbn(password, user_inputs=inputs)
    if result["score"] >= int(current_app.config["PASSWORD_MIN_SCORE"]):
        return None
    if any(m.get("dictionary_name") == "user_inputs" for m in result["sequence"]):
        return "密码不能含用户名、姓名、手机号或公开的演示密码"
    return "密码太常见或太有规律（如 password1、abcd1234）：请换一个更长、不常见的密码，例如几个词加数字"

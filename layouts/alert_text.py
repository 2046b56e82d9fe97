"""Alert texts as the screens show them: the area is shown once (beside the message, not inside it
again) and numbers are rounded for reading (no 12.345678)."""

from __future__ import annotations

import re

_LONG_DECIMAL = re.compile(r"(?<![\d.])(\d+)\.(\d{3,})(?![\d.])")


def round_numbers(text: str, decimals: int = 2) -> str:
    """``text`` with every decimal number of more than ``decimals`` decimals rounded to ``decimals``
    (trailing zeros dropped); integers, codes and short decimals stay as they are."""

    def repl(m: re.Match) -> str:
        rounded = f"{float(m.group(0)):.{decimals}f}".rstrip("0").rstrip(".")
        return rounded or "0"

    return _LONG_DECIMAL.sub(repl, text)


def alert_message(message: str | None, region_name: str | None) -> str:
    """The message of an alert for display next to its area's name: the area's name at its start (as older
    alerts stored it) is dropped, and long decimals are rounded."""
    text = (message or "").strip()
    if region_name and text.startswith(region_name):
        rest = text[len(region_name):]
        # Only a whole name: "石光社区 在岗率…" loses it, "石光社区雨量站0001 …" (a station's name) keeps it.
        if not rest or rest[0] in " ·:：,，":
            text = rest.lstrip(" ·:：,，")
    return round_numbers(text)

"""Alert texts as the screens show them: the area is shown once (beside the message, not inside it
again) and numbers are rounded for reading (no 12.345678)."""

from __future__ import annotations

import re

from datasources.rules import threshold_status
from layouts.i18n import pick
from layouts.kpi import format_value

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
    if region_name and text.endswith(region_name):  # a severe event's "安全隐患 · 银口社区"
        head = text[: -len(region_name)]
        if head and head[-1] in " ·:：,，":
            text = head.rstrip(" ·:：,，") or text
    return round_numbers(text)


def alert_area(alert: dict, lang: str) -> str:
    """The alert's area name in ``lang`` (the Chinese name when there is no English one)."""
    return pick(lang, alert.get("region_name") or "", alert.get("region_name_en") or "")


def alert_text(alert: dict, lang: str) -> str:
    """An open alert's message in ``lang`` (a row of ``Repository.open_alerts``). Chinese: the stored
    message (see :func:`alert_message`). English: made from the alert's rule, indicator and value, since
    the stored message is Chinese; a severe event's message is the event's title (data, left as it is)."""
    if lang != "en":
        return alert_message(alert.get("message"), alert.get("region_name"))
    value = alert.get("value")
    kind = alert.get("kind")
    if kind == "indicator" and alert.get("indicator_name_en") and value is not None and alert.get("indicator_alarm") is not None:
        side = "<" if (alert.get("indicator_polarity") or 1) > 0 else ">"  # short: the ticker keeps it on one line
        unit = alert.get("indicator_unit_en") or ""
        unit = "%" if unit == "%" else f" {unit}" if unit else ""
        return f"{alert['indicator_name_en']} {format_value(value)}{unit} {side} alarm {format_value(alert['indicator_alarm'])}{unit}"
    if kind == "reading" and alert.get("rule_name_en") and value is not None:
        polarity = alert.get("rule_polarity") or -1
        status = threshold_status(value, polarity, alert.get("rule_warn"), alert.get("rule_alarm"))
        limit = alert.get("rule_alarm") if status == "alarm" else alert.get("rule_warn")
        side = ">" if polarity < 0 else "<"
        level = "alarm" if status == "alarm" else "warning"
        # The station's name has no English form: the area (shown beside the text) says where.
        return f"{alert['rule_name_en']} {format_value(value)} {side} {level} {format_value(limit)}"
    if kind == "surge" and alert.get("rule_name_en") and value is not None:
        hours = f" in {alert['window_hours']} h" if alert.get("window_hours") else ""
        return f"{alert['rule_name_en']}: {format_value(value)} reports{hours}"
    return alert_message(alert.get("message"), alert.get("region_name"))


def rounded(value: float) -> str:
    """A number as the alert panel shows it: whole from 100 up, else at most one decimal (88.62 -> 88.6)."""
    # + 0.0 turns the -0.0 that rounding a small negative number gives into 0.0 ("0", not "-0")
    return format_value(round(value) + 0.0 if abs(value) >= 100 else round(value, 1) + 0.0)


def alert_summary(alert: dict, lang: str, indicators: dict[str, dict]) -> str:
    """The short form of an alert for the leader's panel (which names the area once beside it): the
    indicator and its rounded value for a threshold alert, the rule and its value for a reading or surge,
    otherwise the message as :func:`alert_message` cleans it. ``indicators``: catalog rows by code."""
    value = alert.get("value")
    ind = indicators.get(alert.get("indicator_code") or "")
    if alert.get("kind") == "indicator" and ind:
        unit = pick(lang, ind["unit"], ind["unit_en"])
        shown = f" {rounded(value)}{'' if unit in ('%', '') else ' '}{unit}" if value is not None else ""
        return f"{pick(lang, ind['name_zh'], ind['name_en'])}{shown}"
    if alert.get("kind") in ("reading", "surge") and (alert.get("rule_name_zh") or alert.get("rule_name_en")):
        name = pick(lang, alert.get("rule_name_zh") or "", alert.get("rule_name_en") or "")
        return f"{name} {rounded(value)}" if value is not None else name
    return alert_message(alert.get("message"), alert.get("region_name"))

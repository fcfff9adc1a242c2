"""Masking of personal data (DESIGN.md, Security).

Residents' and staff members' names and phone numbers are personal data. Until
roles and access control exist, every surface that shows them shows them
masked, the way Chinese public notices do: ``张*`` and ``138****1234``.
"""

from __future__ import annotations

import re

_NOT_DIGIT = re.compile(r"\D")


def mask_name(name: str | None) -> str:
    """Keep the first character (the surname, usually) and star the rest.

    Args:
        name: A person's name, e.g. ``张三`` or ``李四光``.

    Returns:
        ``张*``, ``李**``; a one-character name becomes ``*`` since the surname
        alone would identify it; empty for no name.
    """
    name = (name or "").strip()
    if not name:
        return ""
    if len(name) == 1:
        return "*"
    return name[0] + "*" * (len(name) - 1)


def mask_phone(phone: str | None) -> str:
    """Show the first three and last four digits of a phone number.

    Args:
        phone: A phone number in any punctuation (``138-1234-1234``).

    Returns:
        ``138****1234`` for an 11-digit mobile number. Numbers too short to keep
        seven digits visible without revealing them keep only the last two;
        four digits or fewer are starred entirely.
    """
    digits = _NOT_DIGIT.sub("", phone or "")
    if not digits:
        return ""
    if len(digits) >= 10:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 2) + digits[-2:]

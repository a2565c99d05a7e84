"""One spelling of an emoji that both platforms agree on.

Slack names emoji (`eyes`), Discord sends unicode (👀). A setting is written once, either way (`👀`, `:eyes:`
or `eyes`); the core keeps it as an alias without colons and each adapter renders it for its platform with
the `emoji` package, so a reaction seen on Slack and one seen on Discord compare equal.
"""
from __future__ import annotations

import emoji


def name_of(value: str | None) -> str:
    """The alias for a setting or a platform's reaction ('' when empty or not an emoji)."""
    value = (value or "").strip()
    if not value:
        return ""
    if emoji.emoji_count(value):
        alias = emoji.demojize(value, language="alias").strip()
        return alias.strip(":").split("::")[0] if alias.startswith(":") else ""
    return value.strip(":").split("::")[0]  # a name; Slack adds ::skin-tone-2 to some


def unicode_of(name: str) -> str:
    """The unicode character for an alias (Discord); a name with no character is given back as is."""
    if not name:
        return ""
    text = emoji.emojize(f":{name}:", language="alias")
    return text if text != f":{name}:" else name

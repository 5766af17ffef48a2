"""The field template of the model text: its field names and their check.

Kept free of heavy imports (no pandas, numpy or scikit-learn) so that the params check
(``papercls.config.check``) can use it in a fraction of a second."""

from __future__ import annotations

import string

SEP = "[SEP]"
FIELDS = ("title", "author", "abstract", "Keywords")


def template_fields(template: str) -> list[str]:
    """The field names a template uses; raises ValueError for unknown ones."""
    names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    unknown = sorted(set(names) - set(FIELDS) - {"sep"})
    if unknown:
        raise ValueError(
            f"text_template uses unknown field(s) {unknown}; allowed: {list(FIELDS)} and 'sep'"
        )
    if not set(names) & set(FIELDS):
        raise ValueError("text_template must use at least one of " + ", ".join(FIELDS))
    return names

"""Seniority of a job title: c_level, vp, director, manager, ic, student (or None).

Rule-based, English plus the commonest German/French/Spanish forms. Order matters:
"Assistant to the CEO" is ic, "Vice President" is vp (not c_level via "President"),
"Head of Sales" is director, "Managing Director" (a GmbH/Ltd chief executive) is c_level.
"""

from __future__ import annotations

import re

SENIORITIES = ("c_level", "vp", "director", "manager", "ic", "student")
SENIORITY_LABELS = {
    "c_level": "C-level",
    "vp": "VP-level",
    "director": "Director-level",
    "manager": "Manager-level",
    "ic": "Individual contributor",
    "student": "Student / intern",
}

_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("student", re.compile(r"\b(student|intern|internship|trainee|apprentice|azubi|werkstudent|praktikant|phd candidate|undergrad\w*)\b")),
    ("ic", re.compile(r"\b(assistant|assistent|secretary|sekret\w+)\b(?!\s+(vice\s+president|vp|director|manager)\b)")),
    ("vp", re.compile(r"\b(s?e?vp|avp|vice[\s-]+president|vizepr\w+|vice[\s-]+pr[ée]sident)\b")),
    ("c_level", re.compile(
        r"\b(chief\s+\w+(\s+\w+)?\s+officer|c[ETFOMIRP]O|ciso|cxo|founder|co-?founder|owner|"
        r"president|managing\s+director|gesch[äa]ftsf[üu]hrer\w*|inhaber\w*|vorstand\w*|"
        r"pdg|directeur\s+g[ée]n[ée]ral|director\s+general|general\s+manager|managing\s+partner|"
        r"partner|proprietor)\b",
        re.I,
    )),
    ("director", re.compile(r"\b(director|directeur|directora?|head|leiter\w*|bereichsleiter\w*)\b")),
    ("manager", re.compile(r"\b(manager\w*|lead|leader|supervisor|teamleiter\w*|responsable|gerente|foreman)\b")),
]
_IC_HINT = re.compile(r"[a-z]")


def seniority(title: object) -> str | None:
    """The seniority of a job title, or None when there is no title."""
    if not isinstance(title, str):
        return None
    raw = title.strip()
    if not raw:
        return None
    low = raw.lower()
    for level, pattern in _RULES:
        # c_level's acronyms are matched case-sensitively on the raw title (CEO, CTO…)
        # so words such as "coo"/"cio" in other languages do not count.
        if level == "c_level":
            if pattern.search(raw) and not re.search(r"\bto the\b", low):
                return level
            continue
        if pattern.search(low):
            return level
    return "ic" if _IC_HINT.search(low) else None

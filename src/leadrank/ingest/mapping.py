"""Map the headers of an uploaded file to lead (or activity) fields.

A mapping is ``{header: target}`` where target is a lead field (``LEAD_FIELDS``),
``"full_name"`` (split into first/last by validation), ``"custom:<snake_name>"`` (kept in
``Lead.custom``) or ``"ignore"``. ``suggest_mapping`` never drops a column: anything it does
not recognise becomes ``custom:<snake>``. Each field gets at most one column; when several
headers could fill one field (``Mobile Phone`` and ``Work Phone``), the best-ranked synonym
wins and the others are kept as custom columns.

Headers are normalised before lookup: BOM remnants and zero-width characters removed,
accents folded, camelCase split (``NumberOfEmployees``), Salesforce ``__c`` suffixes and
punctuation dropped, ``#`` read as "number", case folded. CRM prefixes and suffixes are
understood too: ``Person - Email - Work`` (Pipedrive), ``Organization - Name``,
``Contact: Email``, ``Email (work)``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from leadrank.errors import InvalidInput
from leadrank.models.lead import LEAD_FIELDS

__all__ = [
    "ACTIVITY_TARGETS",
    "FULL_NAME",
    "IGNORE",
    "LEAD_TARGETS",
    "apply_activity_overrides",
    "apply_overrides",
    "normalize_header",
    "snake_name",
    "suggest_activity_mapping",
    "suggest_mapping",
]

FULL_NAME = "full_name"
IGNORE = "ignore"
CUSTOM_PREFIX = "custom:"
LEAD_TARGETS: tuple[str, ...] = (*LEAD_FIELDS, FULL_NAME)
ACTIVITY_TARGETS: tuple[str, ...] = (
    "lead_email",
    "lead_external_id",
    "lead_id",
    "activity_type",
    "activity_date",
    "description",
    "source",
)

# Synonyms per target, best first. Written in any form: they are normalised like headers.
LEAD_SYNONYMS: dict[str, list[str]] = {
    "external_id": [
        "External ID", "External Id", "Lead ID", "Record ID", "Contact ID", "Id", "ID",
        "Person ID", "Prospect ID", "CRM ID", "Customer ID", "Lead Number", "Unique ID",
        "Salesforce ID", "HubSpot ID", "Pipedrive ID", "Apollo Contact Id", "ZoomInfo Contact ID",
        "Reference", "Ref",
    ],
    "email": [
        "Email", "Email Address", "E-mail", "E-mail Address", "Work Email", "Business Email",
        "Email 1", "Primary Email", "Contact Email", "Lead Email", "Person Email",
        "Personal Email", "Mail", "Emails",
    ],
    "first_name": ["First Name", "Firstname", "Given Name", "First", "Forename", "Fname",
                   "Contact First Name", "Lead First Name", "Prenom"],
    "last_name": ["Last Name", "Lastname", "Surname", "Family Name", "Last", "Lname",
                  "Contact Last Name", "Lead Last Name", "Nom"],
    FULL_NAME: ["Full Name", "Name", "Contact Name", "Lead Name", "Person Name", "Contact",
                "Person", "Contact Full Name", "Prospect Name"],
    "phone": [
        "Phone", "Phone Number", "Telephone", "Tel", "Mobile", "Mobile Phone", "Mobile Number",
        "Cell", "Cell Phone", "Direct Phone", "Work Phone", "Work Direct Phone", "Business Phone",
        "First Phone", "Direct Dial", "Contact Phone", "Primary Phone", "Corporate Phone",
        "Company Phone", "Phone 1", "Home Phone", "Other Phone",
    ],
    "company_name": [
        "Company Name", "Company", "Organization", "Organisation", "Organization Name",
        "Organisation Name", "Account Name", "Account", "Business Name", "Employer",
        "Company Name for Emails", "Associated Company", "Firm", "Org",
    ],
    "job_title": ["Job Title", "Title", "Position", "Role", "Job Role", "Job Position",
                  "Designation", "Job Function", "Occupation", "Headline"],
    "industry": ["Industry", "Sector", "Vertical", "Industry Type", "Business Type",
                 "Company Industry", "Primary Industry", "Market"],
    "company_size": [
        "Company Size", "Number of Employees", "# of Employees", "# Employees", "Employees",
        "No of Employees", "Employee Count", "Employees Count", "Headcount", "Head Count",
        "Staff", "Size", "Company Headcount", "Employee Range", "Employees Range",
        "Organization Size", "Team Size", "Num Employees", "Company Employee Count",
        "Employee Size",
    ],
    "annual_revenue": ["Annual Revenue", "Revenue", "Company Revenue", "Revenue USD",
                       "Annual Revenue USD", "Turnover", "Annual Turnover", "Sales Volume",
                       "Revenue Range", "Estimated Revenue"],
    "location": ["Location", "City", "Address", "Town", "Street Address", "Mailing Address",
                 "Company City", "Company Address", "Region", "Person Location", "Metro",
                 "City State", "Geo", "Mailing City"],
    "country": ["Country", "Country Region", "Country Name", "Country Code", "Nation",
                "Company Country", "Mailing Country", "Billing Country"],
    "website": ["Website", "Company Website", "Domain", "Company Domain", "Website URL",
                "URL", "Web", "Web Site", "Homepage", "Site", "Company URL",
                "Company Domain Name", "Email Domain"],
    "lead_source": ["Lead Source", "Source", "Original Source", "utm_source", "Source Type",
                    "Lead Origin", "Channel", "Original Source Type", "Acquisition Channel",
                    "Lead Channel", "How did you hear about us", "Referral Source"],
    "campaign": ["Campaign", "Campaign Name", "utm_campaign", "Lead Campaign",
                 "Marketing Campaign", "First Campaign", "Latest Campaign", "Primary Campaign"],
    "description": ["Description", "Notes", "About", "Note", "Comments", "Comment",
                    "Lead Description", "Summary", "Bio", "Details", "Remarks",
                    "Company Description", "SEO Description"],
    "outcome": [
        "Outcome", "Converted", "Is Converted", "Won", "Is Won", "Result", "Conversion",
        "Lifecycle Stage", "Lifecyclestage", "Deal Stage", "Opportunity Stage", "Stage",
        "Lead Status", "Status", "Deal Status", "Pipeline Stage", "Lead Stage",
    ],
    "outcome_date": ["Outcome Date", "Close Date", "Closed Date", "Converted Date",
                     "Conversion Date", "Won Date", "Won Time", "Lost Date", "Lost Time",
                     "Date Converted", "Became a Customer Date", "Recent Deal Close Date",
                     "Deal Close Date", "Closed At", "Close Time", "Expected Close Date"],
    "last_activity_date": ["Last Activity Date", "Last Activity", "Last Contacted",
                           "Last Engagement Date", "Last Touch Date", "Last Activity At",
                           "Last Interaction", "Last Contact Date", "Recent Activity Date",
                           "Last Modified Date", "Last Updated"],
    "created_at": ["Created At", "Created Date", "Create Date", "Created", "Date Created",
                   "Created On", "Creation Date", "Lead Created Date", "Added", "Date Added",
                   "Added On", "Signup Date", "Sign Up Date", "Lead Date", "Date",
                   "Submitted At", "Timestamp"],
}

ACTIVITY_SYNONYMS: dict[str, list[str]] = {
    "lead_email": ["Lead Email", "Email", "Email Address", "Contact Email", "E-mail",
                   "Person Email", "Recipient", "Recipient Email", "Visitor Email", "Work Email"],
    "lead_external_id": ["External ID", "Lead External ID", "Contact ID", "Record ID",
                         "Person ID", "Prospect ID", "CRM ID", "Salesforce ID", "HubSpot ID",
                         "Contact Record ID", "Lead Record ID"],
    "lead_id": ["Lead ID", "Leadrank ID", "Lead UUID", "Id"],
    "activity_type": ["Activity Type", "Type", "Activity", "Event", "Event Type", "Action",
                      "Activity Name", "Engagement Type", "Interaction Type", "Event Name",
                      "Kind"],
    "activity_date": ["Activity Date", "Date", "Timestamp", "Occurred At", "Event Date",
                      "Time", "Date Time", "Datetime", "Created", "Created At", "Created Date",
                      "Activity Time", "Event Time", "When", "Engagement Date"],
    "description": ["Description", "Details", "Notes", "Subject", "Note", "Comment",
                    "Comments", "Page", "Page URL", "URL", "Asset", "Title", "Email Subject",
                    "Campaign", "Body"],
    "source": ["Source", "Channel", "Platform", "Tool", "System", "Origin", "Medium",
               "utm_source"],
}

_ENTITY_PREFIXES = {
    "person", "contact", "lead", "prospect", "people",
    "organization", "organisation", "org", "company", "account", "deal", "opportunity",
}
_ORG_PREFIXES = {"organization", "organisation", "org", "company", "account"}
_DEAL_PREFIXES = {"deal", "opportunity"}
_ORG_FIELDS = {"company_name", "website", "industry", "company_size", "annual_revenue",
               "location", "country", "phone", "description"}
_DEAL_FIELDS = {"outcome", "outcome_date", "lead_source", "campaign"}
_QUALIFIER_SUFFIXES = {"work", "home", "other", "mobile", "primary", "main", "business",
                       "personal", "1", "value", "office", "direct"}

_CAMEL_1 = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_CAMEL_2 = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^0-9a-z]+")
_SF_SUFFIX = re.compile(r"__c$", re.IGNORECASE)
_ZERO_WIDTH = str.maketrans({"\ufeff": None, "\u200b": None, "\u200c": None, "\u200d": None,
                             "\u2060": None, "\xa0": " "})


def normalize_header(header: str) -> str:
    """``'  # of Employees '`` -> ``'number of employees'``; ``'FirstName'`` -> ``'first name'``."""
    h = header.translate(_ZERO_WIDTH)
    if h.startswith("ï»¿"):
        h = h[3:]
    h = _SF_SUFFIX.sub("", h.strip())
    h = unicodedata.normalize("NFKD", h)
    h = "".join(ch for ch in h if not unicodedata.combining(ch))
    h = _CAMEL_2.sub(" ", _CAMEL_1.sub(" ", h))
    h = h.lower().replace("#", " number ").replace("&", " and ").replace("nº", " number ")
    h = _NON_WORD.sub(" ", h)
    words = h.split()
    # "no of employees" / "num employees" / "nb employees" -> "number ..."
    words = ["number" if w in ("no", "num", "nr", "nb", "nbr") and i == 0 else w
             for i, w in enumerate(words)]
    return " ".join(words)


def snake_name(header: str) -> str:
    """The ``custom:`` key for a header: normalised words joined by ``_`` (max 60 chars)."""
    return normalize_header(header).replace(" ", "_")[:60].strip("_")


def _index(synonyms: dict[str, list[str]]) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for target, names in synonyms.items():
        for rank, name in enumerate(names):
            out.setdefault(normalize_header(name), (target, rank))
    return out


_LEAD_INDEX = _index(LEAD_SYNONYMS)
_ACTIVITY_INDEX = _index(ACTIVITY_SYNONYMS)
_FUZZY_PENALTY = 100  # a match found after stripping prefixes/suffixes ranks below exact ones


def _lookup(norm: str, index: dict[str, tuple[str, int]], lead: bool) -> tuple[str, int] | None:
    hit = index.get(norm)
    if hit:
        return hit
    compact = norm.replace(" ", "")
    for key, value in index.items():  # "emailaddress", "jobtitle", "lifecyclestage"
        if key.replace(" ", "") == compact:
            return value[0], value[1] + _FUZZY_PENALTY // 2
    words = norm.split()
    if len(words) < 2:
        return None
    # Qualifier suffixes: "email work", "phone mobile", "email 2".
    trimmed = list(words)
    while len(trimmed) > 1 and (trimmed[-1] in _QUALIFIER_SUFFIXES or trimmed[-1].isdigit()):
        trimmed.pop()
    if trimmed != words:
        hit = index.get(" ".join(trimmed))
        if hit:
            return hit[0], hit[1] + _FUZZY_PENALTY
    # Entity prefixes: "person email", "organization name", "deal status".
    if trimmed[0] in _ENTITY_PREFIXES and len(trimmed) > 1:
        prefix, rest = trimmed[0], " ".join(trimmed[1:])
        if lead and prefix in _ORG_PREFIXES and rest == "name":
            return "company_name", _FUZZY_PENALTY
        hit = index.get(rest)
        if hit and lead:
            # "Organization - ID" is not the lead's id, "Deal - Title" is not a job title.
            if prefix in _ORG_PREFIXES and hit[0] not in _ORG_FIELDS:
                return None
            if prefix in _DEAL_PREFIXES and hit[0] not in _DEAL_FIELDS:
                return None
        if hit:
            return hit[0], hit[1] + _FUZZY_PENALTY
    return None


def _assign(
    headers: list[str], index: dict[str, tuple[str, int]], *, lead: bool
) -> dict[str, str]:
    candidates: list[tuple[int, int, str, str]] = []  # (rank, position, header, target)
    for pos, header in enumerate(headers):
        norm = normalize_header(header)
        hit = _lookup(norm, index, lead) if norm else None
        if hit:
            candidates.append((hit[1], pos, header, hit[0]))
    chosen: dict[str, str] = {}
    taken: set[str] = set()
    for _rank, _pos, header, target in sorted(candidates):
        if target not in taken:
            taken.add(target)
            chosen[header] = target
    return chosen


def suggest_mapping(headers: list[str]) -> dict[str, str]:
    """Suggest ``{header: target}`` for a lead file. Every header gets a target."""
    chosen = _assign(headers, _LEAD_INDEX, lead=True)
    result: dict[str, str] = {}
    used_custom: set[str] = set()
    for pos, header in enumerate(headers):
        if header in chosen:
            result[header] = chosen[header]
            continue
        base = snake_name(header) or f"column_{pos + 1}"
        name, n = base, 1
        while name in used_custom:
            n += 1
            name = f"{base}_{n}"
        used_custom.add(name)
        result[header] = CUSTOM_PREFIX + name
    return result


def suggest_activity_mapping(headers: list[str]) -> dict[str, str]:
    """Suggest ``{header: target}`` for an activity file; unknown columns are ignored
    (activities have no custom attributes)."""
    chosen = _assign(headers, _ACTIVITY_INDEX, lead=False)
    return {h: chosen.get(h, IGNORE) for h in headers}


def _check_target(header: str, target: str, allowed: Iterable[str], custom: bool) -> str:
    if not isinstance(target, str):
        raise InvalidInput(f"The target for column '{header}' must be a string.")
    t = target.strip()
    if t == IGNORE or t in allowed:
        return t
    if custom and t.lower().startswith(CUSTOM_PREFIX):
        name = snake_name(t[len(CUSTOM_PREFIX):])
        if not name:
            raise InvalidInput(
                f"Column '{header}' is mapped to '{target}': a custom field needs a name, "
                "e.g. 'custom:plan_tier'."
            )
        return CUSTOM_PREFIX + name
    options = ", ".join([*allowed, IGNORE] + (["custom:<name>"] if custom else []))
    raise InvalidInput(
        f"Column '{header}' is mapped to unknown field '{target}'. Valid targets: {options}.",
        details={"header": header, "target": target},
    )


def _apply(
    suggested: dict[str, str],
    overrides: dict[str, str],
    allowed: tuple[str, ...],
    *,
    custom: bool,
) -> dict[str, str]:
    unknown = [h for h in overrides if h not in suggested]
    if unknown:
        listed = ", ".join(f"'{h}'" for h in unknown)
        raise InvalidInput(
            f"The mapping names column(s) {listed} that the file does not have.",
            details={"unknown_columns": unknown},
        )
    result = dict(suggested)
    explicit: dict[str, str] = {}
    for header, target in overrides.items():
        t = _check_target(header, target, allowed, custom)
        result[header] = t
        explicit[header] = t
    # Two explicit choices on one field is an error; an explicit choice beats a suggestion,
    # whose column is then kept as a custom field (or ignored, for activities).
    by_target: dict[str, list[str]] = {}
    for header, target in result.items():
        if target != IGNORE:
            by_target.setdefault(target, []).append(header)
    for target, headers in by_target.items():
        if len(headers) < 2:
            continue
        chosen = [h for h in headers if h in explicit]
        if len(chosen) != 1:
            listed = " and ".join(f"'{h}'" for h in (chosen or headers))
            raise InvalidInput(
                f"Columns {listed} are all mapped to '{target}', which takes one column; map "
                "the others to another field, a custom field or 'ignore'.",
                details={"target": target, "columns": chosen or headers},
            )
        for h in headers:
            if h not in explicit:
                if custom:
                    taken = {t for t in result.values() if t.startswith(CUSTOM_PREFIX)}
                    base = CUSTOM_PREFIX + (snake_name(h) or "column")
                    name, n = base, 1
                    while name in taken:
                        n += 1
                        name = f"{base}_{n}"
                    result[h] = name
                else:
                    result[h] = IGNORE
    return result


def apply_overrides(suggested: dict[str, str], overrides: dict[str, str]) -> dict[str, str]:
    """Apply a user's ``{header: target}`` choices to a suggested lead mapping.

    Raises ``InvalidInput`` for a column the file lacks, an unknown target (naming it and
    listing the valid ones), or two explicitly chosen columns on one field. A column whose
    *suggested* field is taken by an explicit choice is kept as ``custom:<snake>``.
    """
    return _apply(suggested, overrides, LEAD_TARGETS, custom=True)


def apply_activity_overrides(
    suggested: dict[str, str], overrides: dict[str, str]
) -> dict[str, str]:
    """Same as :func:`apply_overrides` for activity files (no custom fields)."""
    return _apply(suggested, overrides, ACTIVITY_TARGETS, custom=False)

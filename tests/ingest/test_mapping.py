from __future__ import annotations

import pytest

from leadrank.errors import InvalidInput
from leadrank.ingest.mapping import (
    apply_activity_overrides,
    apply_overrides,
    normalize_header,
    suggest_activity_mapping,
    suggest_mapping,
)
from leadrank.models.lead import LEAD_FIELDS

SYNONYM_GROUPS = {
    "company_name": ["Company", "Organization", "Account Name", "Company Name", "Organisation",
                     "COMPANY_NAME", "Organization - Name"],
    "job_title": ["Title", "Position", "Job Title", "Role", "JobTitle", "job_title"],
    "company_size": ["Employees", "# of employees", "Number of Employees", "Company Size",
                     "Headcount", "NumberOfEmployees", "# Employees", "No. of employees"],
    "lead_source": ["Lead Source", "Source", "utm_source", "Original Source", "LeadSource"],
    "campaign": ["utm_campaign", "Campaign", "Campaign Name"],
    "email": ["Email", "Email Address", "E-mail", "Work Email", "EMAIL", "e_mail",
              "Person - Email - Work", "Email (Work)"],
    "first_name": ["First Name", "Given name", "First", "FirstName", "first_name", "Prénom"],
    "last_name": ["Last Name", "Surname", "LastName", "Family name"],
    "full_name": ["Full Name", "Name", "Contact Name"],
    "website": ["Website", "Domain", "Company Website", "URL", "Website URL"],
    "industry": ["Industry", "Sector", "Vertical"],
    "annual_revenue": ["Annual Revenue", "Revenue", "AnnualRevenue"],
    "location": ["City", "Location", "Address"],
    "country": ["Country", "Country/Region"],
    "phone": ["Phone", "Mobile", "Phone Number", "Mobile Phone"],
    "external_id": ["Lead ID", "Record ID", "Id", "External ID", "Contact ID", "ID"],
    "outcome": ["Converted", "Status", "Lead Status", "Stage", "Deal Stage", "Outcome", "Won",
                "IsConverted", "Lifecycle Stage", "Deal - Status"],
    "outcome_date": ["Close Date", "Converted Date", "Won Date", "CloseDate"],
    "created_at": ["Created Date", "Create Date", "Created", "Date", "CreatedDate",
                   "Created At"],
    "last_activity_date": ["Last Activity Date", "LastActivityDate"],
    "description": ["Description", "Notes", "About"],
}


@pytest.mark.parametrize(
    ("header", "target"),
    [(h, t) for t, hs in SYNONYM_GROUPS.items() for h in hs],
)
def test_each_synonym_maps_to_its_field(header: str, target: str) -> None:
    assert suggest_mapping([header]) == {header: target}


def test_every_lead_field_has_synonyms() -> None:
    assert set(LEAD_FIELDS) <= set(SYNONYM_GROUPS)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("\ufeffEmail", "email"),
        ("ï»¿Email", "email"),
        ("  E-Mail  Address ", "e mail address"),
        ("# of Employees", "number of employees"),
        ("Société", "societe"),
        ("FirstName", "first name"),
        ("Annual_Revenue__c", "annual revenue"),
        ("first\u200bname", "firstname"),
    ],
)
def test_normalize_header(raw: str, normal: str) -> None:
    assert normalize_header(raw) == normal


def test_unknown_columns_are_kept_as_custom_snake_case() -> None:
    m = suggest_mapping(["Email", "Plan Tier", "Lead Score (0-100)", "Intérêt"])
    assert m == {
        "Email": "email",
        "Plan Tier": "custom:plan_tier",
        "Lead Score (0-100)": "custom:lead_score_0_100",
        "Intérêt": "custom:interet",
    }


def test_one_field_gets_one_column_the_best_synonym_wins() -> None:
    m = suggest_mapping(["Mobile Phone", "Phone", "Email", "Person - Email - Work"])
    assert m["Phone"] == "phone"
    assert m["Mobile Phone"] == "custom:mobile_phone"
    assert m["Email"] == "email"
    assert m["Person - Email - Work"] == "custom:person_email_work"
    assert list(m.values()).count("phone") == 1


def test_crm_prefixes_do_not_misfire() -> None:
    m = suggest_mapping(["Deal - Title", "Organization - ID", "Contact owner", "Email Status"])
    assert all(v.startswith("custom:") for v in m.values()), m


def test_hubspot_export_headers() -> None:
    headers = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Company Name",
               "Job Title", "Lifecycle Stage", "Lead Status", "Create Date",
               "Last Activity Date", "Original Source", "Number of Employees",
               "Annual Revenue", "Industry", "City", "Country/Region", "Website URL"]
    m = suggest_mapping(headers)
    assert m["Record ID"] == "external_id"
    assert m["Lifecycle Stage"] == "outcome"  # ranks above Lead Status
    assert m["Lead Status"] == "custom:lead_status"
    assert m["Create Date"] == "created_at"
    assert m["Original Source"] == "lead_source"
    assert m["Website URL"] == "website"


def test_apply_overrides_sets_targets_and_custom_names() -> None:
    s = suggest_mapping(["Email", "Plan", "Junk"])
    m = apply_overrides(s, {"Plan": "custom:Plan Tier", "Junk": "ignore"})
    assert m == {"Email": "email", "Plan": "custom:plan_tier", "Junk": "ignore"}


def test_apply_overrides_unknown_target_names_it() -> None:
    s = suggest_mapping(["Email", "Foo"])
    with pytest.raises(InvalidInput, match="'Foo'.*unknown field 'favourite_colour'"):
        apply_overrides(s, {"Foo": "favourite_colour"})


def test_apply_overrides_unknown_column() -> None:
    with pytest.raises(InvalidInput, match="'Nope'"):
        apply_overrides(suggest_mapping(["Email"]), {"Nope": "email"})


def test_apply_overrides_refuses_two_explicit_columns_on_one_field() -> None:
    s = suggest_mapping(["Email", "Work Mail", "Other"])
    with pytest.raises(InvalidInput, match="'Work Mail' and 'Other'.*'email'"):
        apply_overrides(s, {"Work Mail": "email", "Other": "email"})


def test_apply_overrides_explicit_choice_displaces_a_suggestion_into_custom() -> None:
    s = suggest_mapping(["Email", "Work Mail"])
    assert s["Email"] == "email"
    m = apply_overrides(s, {"Work Mail": "email"})
    assert m == {"Email": "custom:email", "Work Mail": "email"}


def test_apply_overrides_empty_custom_name() -> None:
    with pytest.raises(InvalidInput, match="custom field needs a name"):
        apply_overrides(suggest_mapping(["X"]), {"X": "custom:"})


def test_suggest_activity_mapping() -> None:
    m = suggest_activity_mapping(
        ["Email", "Contact ID", "Lead ID", "Activity Type", "Timestamp", "Details", "Channel",
         "Whatever"]
    )
    assert m == {
        "Email": "lead_email",
        "Contact ID": "lead_external_id",
        "Lead ID": "lead_id",
        "Activity Type": "activity_type",
        "Timestamp": "activity_date",
        "Details": "description",
        "Channel": "source",
        "Whatever": "ignore",
    }


def test_apply_activity_overrides_rejects_lead_fields() -> None:
    s = suggest_activity_mapping(["Email", "Type"])
    with pytest.raises(InvalidInput, match="unknown field 'company_name'"):
        apply_activity_overrides(s, {"Type": "company_name"})
    with pytest.raises(InvalidInput, match="unknown field"):
        apply_activity_overrides(s, {"Type": "custom:x"})

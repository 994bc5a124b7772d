from __future__ import annotations

import pandas as pd
import pytest

from leadrank.similarity.embeddings import local_provider, profile_text
from leadrank.similarity.icp import ICP, icp_components, icp_fit
from leadrank.similarity.seniority import seniority


@pytest.mark.parametrize(
    ("title", "level"),
    [
        ("CEO", "c_level"), ("Founder & CEO", "c_level"), ("Chief Revenue Officer", "c_level"),
        ("Managing Director", "c_level"), ("Geschäftsführer", "c_level"), ("VP Sales", "vp"),
        ("Vice President, Marketing", "vp"), ("SVP Engineering", "vp"), ("Head of Sales", "director"),
        ("Director of Finance", "director"), ("Sales Manager", "manager"), ("Team Lead Support", "manager"),
        ("Software Engineer", "ic"), ("Account Executive", "ic"), ("Assistant to the CEO", "ic"),
        ("Executive Assistant", "ic"), ("Marketing Intern", "student"), ("PhD student", "student"),
        ("", None), (None, None),
    ],
)
def test_seniority(title: str | None, level: str | None) -> None:
    assert seniority(title) == level


LEADS = pd.DataFrame(
    [
        {"job_title": "VP Sales", "company_name": "Cloudly", "industry": "Software", "company_size": 120,
         "location": "Berlin", "country": "Germany", "lead_source": "webinar"},
        {"job_title": "Nurse", "company_name": "St Mary", "industry": "Healthcare", "company_size": 40,
         "location": "Austin", "country": "USA", "lead_source": "cold list"},
        {"job_title": None, "company_name": "Unknown Co", "industry": None, "company_size": None},
        {"job_title": "Head of Sales", "company_name": "Datafy", "industry": "Computer Software",
         "company_size": 9000, "location": "Paris", "country": "France", "lead_source": "webinar"},
    ]
)
ICP_DEF = ICP(
    description="VP of Sales at a 50-500 person B2B SaaS company in Europe",
    industries=["Software"], size_min=50, size_max=500, seniorities=["vp", "director", "c_level"],
    locations=["Germany", "France"], sources=["webinar"],
)


def test_criteria_reasons_say_what_matches_and_what_does_not() -> None:
    fit, reasons = icp_fit(LEADS, ICP_DEF)
    assert reasons[0] == [
        "Industry Software matches the ICP",
        "Company size 120 is within the ICP range 50–500",
        "VP-level title matches the ICP",
        "Location Berlin, Germany is in the ICP region",
        "Source webinar is an ICP source",
    ]
    assert "Company size 40 is below the ICP range 50–500" in reasons[1]
    assert "Industry Healthcare is not an ICP industry" in reasons[1]
    assert "Individual contributor title is not an ICP seniority" in reasons[1]
    assert "Seniority unknown (no job title)" in reasons[2] and "Industry unknown" in reasons[2]
    assert "Company size 9,000 is above the ICP range 50–500" in reasons[3]
    assert "Industry Computer Software matches the ICP" in reasons[3]
    assert fit[0] == 1.0
    assert fit[0] > fit[3] > fit[2] > fit[1]
    assert ((0 <= fit) & (fit <= 1)).all()


def test_similarity_to_description_and_examples() -> None:
    provider = local_provider()
    emb = provider.embed([profile_text(r) for r in LEADS.to_dict("records")])
    examples = provider.embed(["Head of Sales at Acme GmbH, business software company, 200 employees",
                               "Registered nurse at Riverside Hospital, healthcare"])
    fit, reasons = icp_fit(
        LEADS, ICP(description=ICP_DEF.description), embeddings=emb,
        description_embedding=provider.embed([ICP_DEF.description])[0],
        example_embeddings=examples, example_names=["Acme GmbH", "Riverside Hospital"],
    )
    assert fit[0] > fit[1] and fit[3] > fit[1]
    assert any(r.startswith("Profile close to the ICP description") for r in reasons[0])
    assert any(r.startswith("Similar to Acme GmbH (") for r in reasons[3])
    assert not any(r.startswith("Similar to Acme GmbH") for r in reasons[1])
    parts = icp_components(LEADS, ICP(), embeddings=emb, example_embeddings=examples,
                           example_names=["Acme GmbH", "Riverside Hospital"])
    assert parts.nearest_example[:2] == ["Acme GmbH", "Riverside Hospital"]


def test_icp_round_trips_and_validates() -> None:
    assert ICP.from_dict(ICP_DEF.to_dict()) == ICP_DEF
    with pytest.raises(ValueError, match="seniorities"):
        ICP(seniorities=["boss"])
    with pytest.raises(ValueError):
        ICP(size_min=500, size_max=50)

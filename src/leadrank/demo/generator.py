"""Synthetic B2B leads and activities with a KNOWN conversion structure.

Used by ``leadrank demo`` (the demo workspace), by tests that check a model learns the
true drivers (and ignores the noise columns), and by benchmarks at 1,000,000 rows.
Everything is vectorised with numpy; strings are built from small lookup tables and
materialised as pandas ``str`` columns.

The generating process (see ``TRUE_DRIVERS`` for the human-readable version)::

    engagement e_i ~ Normal(source_shift, 1)                     (latent, hidden)
    logit p_i      = b0 + fit(attributes_i) + ENGAGEMENT_COEF * e_i
    b0             chosen so that mean(p_i) == base_rate
    outcome_i      ~ Bernoulli(p_i)                              (hidden: _true_outcome)
    activities_i   ~ Poisson per type, rates increasing with e_i (demo_request/meeting
                     most strongly), timed between created_at and outcome_date (or "now"
                     for open leads), with high-engagement leads active closer to the end.

So the best possible model sees the firmographics plus a *noisy measurement* of e_i (the
pre-outcome activities) and lands around ROC AUC 0.80-0.88, below ``_true_probability``.

Hidden columns start with ``_`` (``HIDDEN_COLUMNS``); drop them with :func:`drop_hidden`
before handing the frame to anything that plays the customer.  Keep them on the frame
passed to :func:`generate_activities`: it reads ``_engagement``.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from os import PathLike
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

import pyarrow as pa  # pandas 3 stores str columns in Arrow; strings are built with Arrow kernels
import pyarrow.compute as pc

__all__ = [
    "TRUE_DRIVERS",
    "NOISE_COLUMNS",
    "HIDDEN_COLUMNS",
    "ACTIVITY_TYPES",
    "LEAD_COLUMNS",
    "ACTIVITY_COLUMNS",
    "CSV_HEADERS",
    "ACTIVITY_CSV_HEADERS",
    "MessyCsvReport",
    "generate_leads",
    "generate_activities",
    "generate_demo_dataset",
    "drop_hidden",
    "write_demo_csv",
    "write_activities_csv",
]

# --------------------------------------------------------------------------- drivers
TRUE_DRIVERS: dict[str, str] = {
    "job_title": (
        "Seniority parsed from the title is a strong driver (logit effects): VP +1.0, "
        "C-level/founder +0.8, Director +0.6, Head of +0.5, Manager +0.1, Senior IC -0.3, "
        "IC -0.5, Intern -1.4, Student -2.0. Titles are spelled in many ways "
        "('VP of Sales', 'Vice President, Marketing', 'SVP Sales')."
    ),
    "industry": (
        "Software +0.5 and Fintech +0.45 convert best; Insurance +0.15, Healthcare +0.1, "
        "Consulting +0.1, Logistics +0.05, Manufacturing and Telecommunications 0, "
        "Retail -0.1, Media -0.1, Real Estate -0.2, Education -0.4, Government -0.5, "
        "Non-profit -0.6."
    ),
    "company_size": (
        "Sweet spot 50-1000 employees: effect 0.55 - 0.6*(log10(size) - 2.35)^2, i.e. "
        "about +0.3..+0.55 inside 50-1000, -1.1 at 5 or at 10,000 employees. "
        "annual_revenue is correlated with size but has NO direct effect."
    ),
    "email": (
        "Free-mail address (gmail/yahoo/outlook/hotmail) -0.6. Students (mostly .edu "
        "addresses) are already penalised through the title."
    ),
    "lead_source": (
        "Referral +0.9, Webinar +0.6, Trade Show +0.3, Organic Search +0.2, "
        "Content Download +0.1, Paid Search 0, LinkedIn Ads -0.1, Cold Outbound -0.4, "
        "Purchased List -1.0. Webinar/Content Download/Referral leads are also more "
        "engaged (higher latent engagement), Purchased List/Cold Outbound less."
    ),
    "phone": "Missing phone number -0.25 (slightly down).",
    "budget_confirmed": "Moderately strong: 'yes' +1.0, 'no' -0.7, blank 0 (about 65% blank).",
    "newsletter_subscriber": "Weak: True +0.15.",
    "engagement": (
        "Latent engagement e ~ N(source shift, 1) enters the logit with coefficient 1.4 "
        "(the largest single driver). It is observed only through pre-outcome activities: "
        "demo_request and meeting rates scale like exp(1.6 e) / exp(1.5 e) (strongest "
        "signal), website visits, form fills, webinars exp(0.7 e), downloads/clicks "
        "exp(0.6 e), email opens exp(0.35 e); calls are mostly sales outreach (weak). "
        "/pricing visits are more likely for engaged leads. Engaged leads are active closer "
        "to the decision, so RECENT website visits carry more signal than old ones (decay)."
    ),
    "activities_after_outcome": (
        "Leakage trap: ~80% of converted leads get a meeting 'Onboarding call' (and some "
        "/docs or /login visits) AFTER outcome_date; lost leads get a few newsletter opens "
        "after it. Point-in-time features must cut activities at the outcome date."
    ),
    "noise": (
        "favourite_color, lead_owner_initials, first_name, last_name, country/location, "
        "campaign wording beyond its lead source, created_at weekday/time: NO effect. "
        "A model should not rely on them."
    ),
}

NOISE_COLUMNS: tuple[str, ...] = ("favourite_color", "lead_owner_initials")
HIDDEN_COLUMNS: tuple[str, ...] = ("_true_probability", "_true_outcome", "_engagement", "_seniority")

LEAD_COLUMNS: tuple[str, ...] = (
    "external_id", "first_name", "last_name", "email", "phone", "company_name", "job_title",
    "industry", "company_size", "annual_revenue", "location", "country", "website",
    "lead_source", "campaign", "description", "created_at", "outcome", "outcome_date",
    "favourite_color", "lead_owner_initials", "newsletter_subscriber", "budget_confirmed",
) + HIDDEN_COLUMNS

ACTIVITY_TYPES: tuple[str, ...] = (
    "website_visit", "email_open", "email_click", "download", "form_fill", "webinar",
    "demo_request", "meeting", "call",
)
ACTIVITY_COLUMNS: tuple[str, ...] = (
    "external_id", "email", "activity_type", "activity_date", "description", "source",
)

ENGAGEMENT_COEF = 1.4

# --------------------------------------------------------------------------- word lists
FIRST_NAMES = (
    "James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Lisa Matthew Nancy "
    "Anthony Sandra Mark Ashley Steven Emily Paul Michelle Andrew Amanda Joshua Melissa Kevin "
    "Laura Brian Rebecca George Rachel Timothy Hannah Jason Olivia Ryan Sophie Jacob Emma "
    "Lukas Anna Felix Lea Jonas Marie Leon Clara Maximilian Julia Paul Mia Noah Chloé Louis "
    "Camille Hugo Léa Arthur Manon José Lucía Javier Sofía Carlos Elena Pablo Marta Lars "
    "Ingrid Erik Astrid Sven Freya Raj Priya Arjun Ananya Vikram Neha Wei Mei Hiroshi Yuki "
    "Kenji Sakura Lucas Beatriz Mateus Gabriela Liam Aoife Seán Siobhán Jakub Zofia Björn "
    "Søren Zoë Noémie Renée André Ömer"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Thompson White Harris "
    "Clark Lewis Robinson Walker Young Allen King Wright Scott Hill Green Adams Baker Nelson "
    "Carter Mitchell Roberts Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker "
    "Schulz Hoffmann Koch Richter Klein Wolf Dubois Lefèvre Moreau Laurent Girard Bonnet "
    "Fernández González Sánchez Pérez Gómez Díaz Jansen de Vries Bakker Visser Andersson "
    "Johansson Nilsson Larsen Hansen Nielsen Patel Sharma Gupta Singh Kumar Iyer Chen Wang "
    "Li Zhang Liu Tanaka Suzuki Sato Yamamoto Silva Santos Oliveira Costa Murphy Kelly "
    "O'Brien Byrne Nowak Kowalski Wiśniewski Novak Rossi Russo Bianchi Ferrari Brennan "
    "Lindqvist Åberg Fjällström Núñez"
).split()
# "de Vries" is split above; glue it back.
LAST_NAMES = [n for n in LAST_NAMES if n not in ("de", "Vries")] + ["de Vries"]

COMPANY_A = (
    "Blue North Bright Iron Silver Golden Red Green Swift Clear Deep High True Bold Quiet "
    "Rapid Prime Nova Polar Solar Lunar Urban Coastal Summit Crystal Amber Cedar Maple Oak "
    "Pine Granite Copper Cobalt Velvet Silk Echo Vector Pixel Quantum Atlas Orbit Horizon "
    "Zenith Apex Vertex Harbor River Lake Ocean Alpine Prairie Desert Canyon Falcon Eagle "
    "Hawk Fox Wolf Bear Lion Tiger Otter Raven Sparrow Heron Willow Aspen Birch Juniper "
    "Sage Indigo Scarlet Ivory Onyx Jade Ruby Opal Pearl Arctic Tropic Western Eastern "
    "Southern Northern Central Pacific Atlantic Metro Civic Grand Noble Royal Liberty "
    "Pioneer Frontier Keystone Beacon Lighthouse Anchor Compass Signal Bridge Gate Tower "
    "Castle Forge Mill Field Meadow Ridge Crest Peak Valley Stone Brook Spring Bay Cove "
    "Point Port Haven"
).split()
COMPANY_B = (
    "Harbor Peak Leaf Stone River Bridge Line Path Point Wave Field Works Forge Light Spark "
    "Shift Stack Logic Mind Sense Scale Flow Grid Loop Node Core Base Hub Link Net Cloud "
    "Data Signal Metric Beam Pulse Track Trail Route Gate Port Dock Yard Crest Ridge Ledger "
    "Vault Key Lock Frame Block Cube Sphere Prism Lens Scope Vision View Sight Ray Star "
    "Sun Moon Sky Wind Rain Snow Frost Fire Flame Ember Ash Root Seed Bloom Grove Wood "
    "Branch Tree Hill Rock Sand Shore Tide Current Stream Falls Well Spring Lake Pond Marsh "
    "Glen Dale Vale Wick Ford Ton Ley Mere Moor Heath Fell Holt Hurst Combe Haven Wharf "
    "Quay Mast Sail Keel Helm Oar Rudder Compass Chart Map"
).split()
QUALIFIERS = (
    "", "Nordic ", "Global ", "United ", "First ", "New ", "Modern ", "Smart ", "Next ",
    "Future ", "Digital ", "Open ", "Pure ", "Core ", "Neo ", "Omni ", "Trans ", "Inter ",
    "Meta ", "Hyper ",
)
LEGAL_FORMS = ("", " Group", " Holdings", " International", " Partners", " & Co", " Collective", " Ventures")

INDUSTRIES = (
    "Software", "Fintech", "Healthcare", "Manufacturing", "Retail", "Education", "Logistics",
    "Media", "Real Estate", "Consulting", "Government", "Non-profit", "Telecommunications",
    "Insurance",
)
INDUSTRY_WEIGHTS = np.array([16, 7, 10, 10, 8, 5, 7, 6, 5, 8, 4, 4, 4, 6], float)
INDUSTRY_EFFECT = np.array([0.5, 0.45, 0.1, 0.0, -0.1, -0.4, 0.05, -0.1, -0.2, 0.1, -0.5, -0.6, 0.0, 0.15])
REVENUE_PER_EMPLOYEE = np.array(
    [200, 300, 150, 250, 180, 80, 220, 160, 350, 170, 120, 60, 400, 350], float
) * 1000.0
INDUSTRY_SUFFIXES = {
    "Software": ("Software", "Labs", "Systems", "Technologies", "AI", "Cloud", "Analytics", "io"),
    "Fintech": ("Pay", "Capital", "Financial", "Finance", "Ledger Tech", "Money"),
    "Healthcare": ("Health", "Medical", "Care", "Clinics", "Bio", "Therapeutics"),
    "Manufacturing": ("Industries", "Manufacturing", "Machines", "Components", "Steel", "Engineering"),
    "Retail": ("Retail", "Stores", "Goods", "Market", "Outfitters", "Supply"),
    "Education": ("Learning", "Academy", "Education", "Tutors", "Schools"),
    "Logistics": ("Logistics", "Freight", "Transport", "Shipping", "Cargo", "Express"),
    "Media": ("Media", "Studios", "Publishing", "Broadcasting", "Creative"),
    "Real Estate": ("Properties", "Realty", "Estates", "Homes", "Developments"),
    "Consulting": ("Consulting", "Advisors", "Partners", "Strategy", "Associates"),
    "Government": ("Agency", "Authority", "Council", "Services", "Department"),
    "Non-profit": ("Foundation", "Trust", "Alliance", "Initiative", "Society"),
    "Telecommunications": ("Telecom", "Networks", "Communications", "Mobile", "Connect"),
    "Insurance": ("Insurance", "Assurance", "Mutual", "Underwriters", "Cover"),
}
INDUSTRY_PHRASES = {
    "Software": ("B2B SaaS platform for {aud} teams", "Cloud software for {aud} teams",
                 "Developer tools and APIs for {aud} teams", "AI-powered analytics for {aud} teams"),
    "Fintech": ("Payments infrastructure for online merchants", "Digital lending platform for small businesses",
                "Spend management software for finance teams", "Embedded banking APIs for platforms"),
    "Healthcare": ("Network of outpatient clinics", "Telehealth services for employers",
                   "Medical device maker for cardiology", "Patient engagement software for hospitals"),
    "Manufacturing": ("Precision parts manufacturer for automotive suppliers",
                      "Industrial machinery maker", "Contract electronics manufacturer",
                      "Packaging producer for food brands"),
    "Retail": ("Omnichannel fashion retailer", "Online marketplace for home goods",
               "Grocery chain with regional stores", "Direct-to-consumer outdoor brand"),
    "Education": ("Online courses for working professionals", "Private school group",
                  "Corporate training provider", "EdTech platform for universities"),
    "Logistics": ("Freight forwarding and customs services", "Last-mile delivery network",
                  "Warehousing and fulfilment provider", "Fleet management services"),
    "Media": ("Digital publisher of business news", "Video production studio",
              "Podcast network for tech audiences", "Marketing agency for consumer brands"),
    "Real Estate": ("Commercial property developer", "Residential brokerage",
                    "Coworking space operator", "Property management company"),
    "Consulting": ("Management consultancy for mid-market firms", "IT consulting and systems integration",
                   "Revenue operations advisory", "HR and recruitment consultancy"),
    "Government": ("Regional public services agency", "Municipal transport authority",
                   "National statistics office", "Public health agency"),
    "Non-profit": ("Charity supporting youth education", "Environmental advocacy group",
                   "Community health foundation", "International aid organisation"),
    "Telecommunications": ("Mobile network operator", "Fibre broadband provider",
                           "Unified communications provider", "IoT connectivity provider"),
    "Insurance": ("Commercial insurance broker", "Digital car insurance provider",
                  "Health insurance provider", "Specialty reinsurance underwriter"),
}
AUDIENCES = ("sales", "marketing", "logistics", "finance", "HR", "customer success", "engineering", "IT")

COUNTRIES = (
    # name, weight, phone code, tld, cities
    ("United States", 34, "1", "com", ("New York", "San Francisco", "Austin", "Chicago", "Boston", "Seattle", "Denver", "Atlanta")),
    ("United Kingdom", 10, "44", "co.uk", ("London", "Manchester", "Bristol", "Edinburgh", "Leeds")),
    ("Germany", 10, "49", "de", ("Berlin", "Munich", "Hamburg", "Frankfurt", "Cologne")),
    ("France", 6, "33", "fr", ("Paris", "Lyon", "Toulouse", "Nantes")),
    ("Canada", 6, "1", "ca", ("Toronto", "Vancouver", "Montreal", "Calgary")),
    ("Netherlands", 4, "31", "nl", ("Amsterdam", "Rotterdam", "Utrecht", "Eindhoven")),
    ("Australia", 4, "61", "com.au", ("Sydney", "Melbourne", "Brisbane")),
    ("India", 5, "91", "in", ("Bengaluru", "Mumbai", "Pune", "Hyderabad")),
    ("Spain", 3, "34", "es", ("Madrid", "Barcelona", "Valencia")),
    ("Sweden", 3, "46", "se", ("Stockholm", "Gothenburg", "Malmö")),
    ("Ireland", 2, "353", "ie", ("Dublin", "Cork")),
    ("Switzerland", 2, "41", "ch", ("Zürich", "Geneva", "Basel")),
    ("Poland", 2, "48", "pl", ("Warsaw", "Kraków", "Wrocław")),
    ("Brazil", 3, "55", "com.br", ("São Paulo", "Rio de Janeiro", "Belo Horizonte")),
    ("Singapore", 2, "65", "sg", ("Singapore",)),
    ("Japan", 2, "81", "jp", ("Tokyo", "Osaka")),
    ("Denmark", 2, "45", "dk", ("Copenhagen", "Aarhus")),
)

UNIVERSITIES = (
    ("Stanford University", "stanford.edu", "United States", "San Francisco"),
    ("University of Michigan", "umich.edu", "United States", "Chicago"),
    ("MIT", "mit.edu", "United States", "Boston"),
    ("University of Texas at Austin", "utexas.edu", "United States", "Austin"),
    ("New York University", "nyu.edu", "United States", "New York"),
    ("University of Washington", "uw.edu", "United States", "Seattle"),
    ("Boston University", "bu.edu", "United States", "Boston"),
    ("Georgia Tech", "gatech.edu", "United States", "Atlanta"),
    ("University of Toronto", "utoronto.edu", "Canada", "Toronto"),
    ("Imperial College London", "imperial.edu", "United Kingdom", "London"),
    ("TU Munich", "tum.edu", "Germany", "Munich"),
    ("Sorbonne University", "sorbonne.edu", "France", "Paris"),
    ("University of Amsterdam", "uva.edu", "Netherlands", "Amsterdam"),
    ("University of Melbourne", "unimelb.edu", "Australia", "Melbourne"),
    ("IIT Bombay", "iitb.edu", "India", "Mumbai"),
    ("KTH Royal Institute of Technology", "kth.edu", "Sweden", "Stockholm"),
)

SENIORITIES = ("c_level", "vp", "director", "head", "manager", "senior_ic", "ic", "intern", "student")
SENIORITY_WEIGHTS = np.array([7, 8, 12, 8, 25, 15, 17, 3, 5], float)
SENIORITY_EFFECT = np.array([0.8, 1.0, 0.6, 0.5, 0.1, -0.3, -0.5, -1.4, -2.0])
TITLES = {
    "c_level": ("CEO", "CEO & Co-founder", "Founder", "Co-Founder & CTO", "CFO", "CTO", "COO",
                "Chief Revenue Officer", "Chief Marketing Officer", "CMO", "Chief Executive Officer",
                "Owner", "Managing Director", "CIO"),
    "vp": ("VP of Sales", "Vice President, Marketing", "VP Engineering", "VP, Revenue Operations",
           "SVP Sales", "VP Marketing", "Vice President of Sales", "VP Growth", "VP of Customer Success",
           "EVP, Business Development", "Vice-President Operations"),
    "director": ("Director of IT", "Sales Director", "Director, Demand Generation", "Marketing Director",
                 "Director of Operations", "Dir. of Business Development", "Senior Director, Sales",
                 "Director of Finance", "Director – Customer Experience", "Regional Sales Director"),
    "head": ("Head of Growth", "Head of Sales", "Head of Marketing", "Head of RevOps", "Head of Data",
             "Head of Partnerships", "Head of Digital", "Head of IT"),
    "manager": ("Marketing Manager", "Sales Manager", "Account Manager", "IT Manager", "Product Manager",
                "Operations Manager", "Mgr, Demand Gen", "Customer Success Manager", "Finance Manager",
                "Project Manager", "Office Manager", "Sales Ops Manager"),
    "senior_ic": ("Sr. Software Engineer", "Senior Account Executive", "Senior Data Analyst",
                  "Senior Marketing Specialist", "Sr Product Designer", "Senior Consultant",
                  "Lead Developer", "Principal Engineer"),
    "ic": ("Software Engineer", "Sales Development Representative", "SDR", "Marketing Coordinator",
           "Data Analyst", "Account Executive", "Business Analyst", "Accountant", "Designer",
           "Customer Support Specialist", "Recruiter", "Content Writer"),
    "intern": ("Intern", "Marketing Intern", "Sales Intern", "Working Student", "Trainee"),
    "student": ("Student", "MBA Student", "PhD Candidate", "Graduate Student", "student"),
}

FREEMAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com")

LEAD_SOURCES = ("Webinar", "Referral", "Organic Search", "Paid Search", "LinkedIn Ads", "Trade Show",
                "Purchased List", "Cold Outbound", "Content Download")
SOURCE_WEIGHTS = np.array([10, 6, 16, 14, 12, 7, 10, 13, 12], float)
SOURCE_EFFECT = np.array([0.6, 0.9, 0.2, 0.0, -0.1, 0.3, -1.0, -0.4, 0.1])
SOURCE_ENGAGEMENT_SHIFT = np.array([0.4, 0.2, 0.1, 0.0, 0.0, 0.1, -0.5, -0.3, 0.3])
CAMPAIGNS = {
    "Webinar": ("Webinar – Pipeline Forecasting 101", "Webinar – AI for SDR Teams", "Webinar – RevOps Roundtable"),
    "Referral": ("Customer Referral Program", "Partner Referral"),
    "Organic Search": ("SEO – Lead Scoring Guide", "SEO – Blog"),
    "Paid Search": ("Google Ads – Brand", "Google Ads – Lead Scoring", "Bing Ads – Competitors"),
    "LinkedIn Ads": ("LinkedIn – VP Sales ABM", "LinkedIn – Retargeting", "LinkedIn – Lead Gen Form"),
    "Trade Show": ("SaaStr Annual", "Web Summit", "DMEXCO", "RevOps Summit"),
    "Purchased List": ("Purchased List – EMEA Tech", "Purchased List – US Mid-Market"),
    "Cold Outbound": ("Outbound – Q Sequence A", "Outbound – Founders Sequence", "Outbound – Mid-Market"),
    "Content Download": ("Ebook – State of RevOps", "Guide – Lead Scoring Checklist", "Report – Pipeline Benchmarks"),
}
COLORS = ("Red", "Blue", "Green", "Yellow", "Purple", "Orange", "Black", "White", "Pink", "Teal")
OWNERS = ("JD", "AK", "MR", "SB", "TL", "EW", "PN", "CG", "LH", "OM", "RV", "KS")

# activity generation: base rate at e=0, engagement slope, time skew exponent
_A_BASE = np.array([2.6, 2.2, 0.5, 0.45, 0.3, 0.25, 0.07, 0.08, 0.5])
_A_BETA = np.array([0.7, 0.35, 0.6, 0.6, 0.7, 0.7, 1.6, 1.5, 0.2])
_A_CHATTY = np.array([1, 1, 1, 1, 1, 1, 0, 0, 1], bool)  # affected by per-lead "chattiness" noise
_A_TIME_SHAPE = np.array([1.0, 0.8, 0.8, 0.9, 1.0, 1.0, 2.2, 2.6, 1.0])  # Beta(a,1) "a" at e=0
_A_TIME_SLOPE = np.array([0.45, 0.2, 0.3, 0.3, 0.3, 0.3, 0.2, 0.2, 0.1])
# multipliers by lead source (rows: sources) for a few types
_SOURCE_TYPE_MULT = np.ones((len(LEAD_SOURCES), len(ACTIVITY_TYPES)))
_SOURCE_TYPE_MULT[LEAD_SOURCES.index("Webinar"), ACTIVITY_TYPES.index("webinar")] = 4.0
_SOURCE_TYPE_MULT[LEAD_SOURCES.index("Content Download"), ACTIVITY_TYPES.index("download")] = 3.0
_SOURCE_TYPE_MULT[LEAD_SOURCES.index("Cold Outbound"), ACTIVITY_TYPES.index("call")] = 3.0
_SOURCE_TYPE_MULT[LEAD_SOURCES.index("Purchased List"), ACTIVITY_TYPES.index("call")] = 3.0
_SOURCE_TYPE_MULT[LEAD_SOURCES.index("Purchased List"), ACTIVITY_TYPES.index("email_open")] = 1.4

_PAGES = ("/", "/product", "/features", "/blog/lead-scoring-101", "/blog/revops-metrics", "/case-studies",
          "/integrations", "/docs", "/about", "/careers", "/security")
_PAGE_W = np.array([20, 14, 10, 12, 8, 8, 7, 6, 6, 4, 5], float)
_SUBJECTS = ("Q3 product update", "Your weekly RevOps digest", "Invitation: Pipeline forecasting webinar",
             "5 ways to qualify leads faster", "Customer story: how Northwind doubled pipeline",
             "New: CRM integrations", "Last chance: Summit early-bird tickets")
_DESCRIPTIONS = {
    "website_visit": tuple(f"Visited {p}" for p in _PAGES) + ("Visited /pricing",),
    "email_open": tuple(f"Opened '{s}'" for s in _SUBJECTS),
    "email_click": tuple(f"Clicked 'Book a demo' in '{s}'" for s in _SUBJECTS[:3])
    + tuple(f"Clicked link in '{s}'" for s in _SUBJECTS),
    "download": ("Downloaded 'State of RevOps 2026' report", "Downloaded 'Buyer's guide to lead scoring' ebook",
                 "Downloaded 'ROI calculator' spreadsheet", "Downloaded 'Pipeline benchmarks 2025' whitepaper",
                 "Downloaded 'Lead scoring checklist'"),
    "form_fill": ("Submitted 'Contact us' form", "Submitted 'Request pricing' form",
                  "Submitted 'Newsletter signup' form", "Submitted 'Event registration' form"),
    "webinar": ("Attended webinar 'Pipeline forecasting 101'", "Attended webinar 'AI for SDR teams'",
                "Registered for webinar 'RevOps in 2026'", "Watched on-demand webinar 'Scoring that sales trusts'"),
    "demo_request": ("Requested a demo", "Submitted 'Book a demo' form", "Requested a demo via chat",
                     "Talk-to-sales request"),
    "meeting": ("Discovery call", "Product demo", "Technical deep-dive", "Pricing discussion",
                "Security review call"),
    "call": ("Outbound call – no answer", "Outbound call – left voicemail", "Outbound call – connected",
             "Inbound call"),
}
_SOURCES = {
    "website_visit": ("website",), "email_open": ("mailchimp", "hubspot"), "email_click": ("mailchimp", "hubspot"),
    "download": ("hubspot",), "form_fill": ("hubspot",), "webinar": ("zoom",),
    "demo_request": ("website", "hubspot"), "meeting": ("calendly", "salesforce"), "call": ("aircall", "salesforce"),
}
ONBOARDING_DESCRIPTION = "Onboarding call"
_POST_DESCRIPTIONS = (ONBOARDING_DESCRIPTION, "Visited /docs/getting-started", "Visited /login",
                      "Opened 'Welcome to your new workspace'", "Opened 'Your weekly RevOps digest'")
_POST_SOURCES = ("salesforce", "website", "mailchimp")

_DAY_NS = 86_400 * 10**9
_S_NS = 10**9

# --------------------------------------------------------------------------- helpers


def _ascii(s: str) -> str:
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in s.lower() if ch.isalnum())


def _tk(table, codes) -> "pa.Array":
    """``table[codes]`` as an Arrow string array (table: a sequence of str or an Arrow array)."""
    if not isinstance(table, pa.Array):
        table = pa.array(list(table), type=pa.string())
    return table.take(pa.array(np.asarray(codes, dtype=np.int64)))


def _join(*parts) -> "pa.Array":
    """Element-wise concatenation of Arrow string arrays and plain str scalars."""
    return pc.binary_join_element_wise(*parts, "")


def _istr(values: np.ndarray, width: int = 0) -> "pa.Array":
    s = pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())
    return pc.utf8_lpad(s, width, padding="0") if width else s


def _series(arr: "pa.Array", mask_na: np.ndarray | None = None) -> pd.Series:
    """A pandas ``str`` Series (missing where ``mask_na``)."""
    if mask_na is not None:
        arr = pc.if_else(pa.array(mask_na), pa.scalar(None, pa.string()), arr)
    return pd.Series(arr, dtype="str")


def _lead_strings(s: pd.Series) -> "pa.Array":
    """A lead column as an Arrow string array, whatever the frame's string storage."""
    arr = pa.array(s.astype("str"), from_pandas=True)
    return arr if pa.types.is_string(arr.type) else arr.cast(pa.string())


def _take(table: Sequence[str], codes: np.ndarray) -> pd.Series:
    return _series(_tk(table, codes))


def _weighted(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    cdf = np.cumsum(np.asarray(weights, float))
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(cdf) - 1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _calibrate_intercept(score: np.ndarray, base_rate: float) -> float:
    """b such that mean(sigmoid(score + b)) == base_rate (Newton; the mean is monotone in b)."""
    b = float(np.log(base_rate / (1 - base_rate)) - np.median(score))
    for _ in range(30):
        s = _sigmoid(score + b)
        f, df = s.mean() - base_rate, (s * (1 - s)).mean()
        step = float(np.clip(f / max(df, 1e-12), -2.0, 2.0))
        b -= step
        if abs(step) < 1e-9:
            break
    return b


def _size_effect(size: np.ndarray) -> np.ndarray:
    return 0.55 - 0.6 * (np.log10(np.maximum(size, 1)) - 2.35) ** 2


def _utc(ns: np.ndarray) -> pd.Series:
    return pd.Series(pd.DatetimeIndex(np.asarray(ns, dtype="datetime64[ns]")).tz_localize("UTC"))


def _window(start: date | None, end: date | None) -> tuple[int, int]:
    """[start 00:00, end+1 00:00) in UTC ns. Default: the 365 days before today (UTC)."""
    today = datetime.now(timezone.utc).date()
    if end is None:
        end = today - timedelta(days=1)
    if start is None:
        start = end - timedelta(days=364)
    if start > end:
        raise ValueError("start must not be after end")
    t0 = datetime(start.year, start.month, start.day, tzinfo=timezone.utc)
    t1 = datetime(end.year, end.month, end.day, tzinfo=timezone.utc) + timedelta(days=1)
    return int(t0.timestamp()) * _S_NS, int(t1.timestamp()) * _S_NS


# --------------------------------------------------------------------------- leads


def generate_leads(
    n: int,
    *,
    seed: int = 0,
    start: date | None = None,
    end: date | None = None,
    base_rate: float = 0.12,
    with_outcomes: float = 1.0,
) -> pd.DataFrame:
    """``n`` synthetic B2B leads, ordered by ``created_at`` (``external_id`` follows that order).

    ``created_at`` is spread over [start, end] (whole days, UTC; default the 365 days before
    today — pass both for results that do not depend on the calendar). ``base_rate`` is the
    mean generating probability. A fraction ``with_outcomes`` of leads (preferring older ones)
    is closed as "converted"/"lost" with an ``outcome_date`` after ``created_at`` and not after
    the end of the window; the rest are "open". ``frame.attrs["as_of"]`` is the window end
    ("now" for the data set). Hidden ground truth: ``HIDDEN_COLUMNS``.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if not 0.0 < base_rate < 1.0:
        raise ValueError("base_rate must be in (0, 1)")
    if not 0.0 <= with_outcomes <= 1.0:
        raise ValueError("with_outcomes must be in [0, 1]")
    rng = np.random.default_rng(seed)
    t0, t1 = _window(start, end)

    # ---- who: seniority, student persona
    sen = _weighted(rng, SENIORITY_WEIGHTS, n)
    student = sen == SENIORITIES.index("student")

    # ---- companies (firmographics live on the company; several leads share one)
    n_comp = max(1, int(np.ceil(n / 2.2)))
    c_ind = _weighted(rng, INDUSTRY_WEIGHTS, n_comp)
    c_size = np.clip(np.round(np.exp(rng.normal(np.log(40), 1.6, n_comp))), 1, 250_000).astype(np.int64)
    c_rev = np.round(
        c_size * REVENUE_PER_EMPLOYEE[c_ind] * np.exp(rng.normal(0, 0.5, n_comp)), -3
    ).astype(np.int64)
    c_rev = np.maximum(c_rev, 10_000)
    c_country = _weighted(rng, np.array([c[1] for c in COUNTRIES], float), n_comp)
    n_cities = np.array([len(c[4]) for c in COUNTRIES])
    c_city = (rng.random(n_comp) * n_cities[c_country]).astype(np.int64)
    c_no_web = rng.random(n_comp) < 0.10
    # unique names: permuted id -> (qualifier/legal-form tier, word A, word B); suffix by industry
    perm = rng.permutation(n_comp)
    core_n = len(COMPANY_A) * len(COMPANY_B)
    core, tier = perm % core_n, perm // core_n
    if tier.max(initial=0) >= len(QUALIFIERS) * len(LEGAL_FORMS):
        raise ValueError("n too large for the company name space")
    wa, wb = core // len(COMPANY_B), core % len(COMPANY_B)
    q, lf = tier % len(QUALIFIERS), tier // len(QUALIFIERS)
    suf_tables = [INDUSTRY_SUFFIXES[i] for i in INDUSTRIES]
    suf_off = np.cumsum([0] + [len(s) for s in suf_tables])
    suf_all = [s for t in suf_tables for s in t]
    suf = suf_off[c_ind] + (rng.random(n_comp) * np.diff(suf_off)[c_ind]).astype(np.int64)
    c_name = _join(
        _tk(QUALIFIERS, q), _tk(COMPANY_A, wa), " ", _tk(COMPANY_B, wb), " ", _tk(suf_all, suf),
        _tk(LEGAL_FORMS, lf),
    )
    tld = np.array([c[3] for c in COUNTRIES] + ["io"])
    tld_code = np.where((c_ind == 0) & (rng.random(n_comp) < 0.3), len(COUNTRIES), c_country)
    c_domain = _join(
        _tk([_ascii(x) for x in QUALIFIERS], q), _tk([_ascii(x) for x in COMPANY_A], wa),
        _tk([_ascii(x) for x in COMPANY_B], wb), _tk([_ascii(x) for x in suf_all], suf),
        _tk([_ascii(x) for x in LEGAL_FORMS], lf), ".", _tk(tld, tld_code),
    )
    c_phr = (rng.random(n_comp) * 4).astype(np.int64)
    c_aud = (rng.random(n_comp) * len(AUDIENCES)).astype(np.int64)

    # lead -> company; bigger companies produce more leads
    comp = _weighted(rng, c_size.astype(float) ** 0.35, n)
    uni = (rng.random(n) * len(UNIVERSITIES)).astype(np.int64)
    uni_size = np.array([42_000, 51_000, 12_000, 52_000, 58_000, 60_000, 36_000, 40_000, 97_000,
                         22_000, 50_000, 55_000, 42_000, 54_000, 12_000, 17_000])
    ind = np.where(student, INDUSTRIES.index("Education"), c_ind[comp])
    size = np.where(student, uni_size[uni], c_size[comp]).astype(np.int64)
    rev = np.where(student, np.round(uni_size[uni] * 90_000, -3), c_rev[comp]).astype(np.int64)
    comp_pa = pa.array(comp)
    stu_pa = pa.array(student)
    lead_domain = c_domain.take(comp_pa)

    # ---- names and email
    fn = (rng.random(n) * len(FIRST_NAMES)).astype(np.int64)
    ln = (rng.random(n) * len(LAST_NAMES)).astype(np.int64)
    fl = _tk([_ascii(x) for x in FIRST_NAMES], fn)
    ll = _tk([_ascii(x) for x in LAST_NAMES], ln)
    u = rng.random(n)
    # email kind: 0 company domain, 1 free-mail, 2 .edu
    kind = np.where(u < np.where(size < 10, 0.35, 0.12), 1, 0)
    kind = np.where(student, np.where(u < 0.85, 2, 1), kind)
    pattern = _weighted(rng, np.array([50, 20, 10, 10, 10], float), n).astype(np.int8)
    local_company = pc.choose(
        pa.array(pattern), _join(fl, ".", ll), _join(_tk([_ascii(x)[0] for x in FIRST_NAMES], fn), ll), fl,
        _join(fl, "_", ll), _join(fl, _tk([_ascii(x)[0] for x in LAST_NAMES], ln)),
    )
    local_free = _join(fl, ".", ll, _istr(rng.integers(1, 1000, n)))
    uni_dom = _tk([x[1] for x in UNIVERSITIES], uni)
    local = pc.choose(pa.array(kind.astype(np.int8)), local_company, local_free, _join(fl, ".", ll))
    domain = pc.choose(
        pa.array(kind.astype(np.int8)), lead_domain,
        _tk(FREEMAIL, (rng.random(n) * len(FREEMAIL)).astype(np.int64)), uni_dom,
    )
    email = _join(local, "@", domain)
    for _ in range(5):  # unique emails: later duplicates get the lead number appended
        dup = pd.Series(email, dtype="str").duplicated().to_numpy()
        if not dup.any():
            break
        local = pc.if_else(pa.array(dup), _join(local, _istr(np.arange(1, n + 1))), local)
        email = _join(local, "@", domain)

    # ---- title, company, place, description, phone
    t_tables = [TITLES[s] for s in SENIORITIES]
    t_off = np.cumsum([0] + [len(t) for t in t_tables])
    title_code = t_off[sen] + (rng.random(n) * np.diff(t_off)[sen]).astype(np.int64)
    title_all = [t for tt in t_tables for t in tt]

    company_name = pc.if_else(stu_pa, _tk([x[0] for x in UNIVERSITIES], uni), c_name.take(comp_pa))
    website = _join("https://www.", pc.if_else(stu_pa, uni_dom, lead_domain))
    no_web = np.where(student, False, c_no_web[comp])
    country_names = [c[0] for c in COUNTRIES]
    uni_country = np.array([country_names.index(x[2]) for x in UNIVERSITIES])
    country_idx = np.where(student, uni_country[uni], c_country[comp])
    city_off = np.cumsum([0] + [len(c[4]) for c in COUNTRIES])
    loc_all = [f"{city}, {c[0]}" for c in COUNTRIES for city in c[4]]
    uni_loc = np.array([loc_all.index(f"{x[3]}, {x[2]}") for x in UNIVERSITIES])
    loc_code = np.where(student, uni_loc[uni], city_off[c_country[comp]] + c_city[comp])

    n_aud, n_cty = len(AUDIENCES), len(COUNTRIES)
    d_all = [
        f"{ph.format(aud=aud)} in {c[0]}"
        for ind_name in INDUSTRIES for ph in INDUSTRY_PHRASES[ind_name] for aud in AUDIENCES for c in COUNTRIES
    ]
    uni_desc = len(d_all)
    d_all += [f"University in {x[2]}" for x in UNIVERSITIES]
    desc_code = ((c_ind * 4 + c_phr) * n_aud + c_aud) * n_cty + c_country
    desc_code = np.where(student, uni_desc + uni, desc_code[comp])

    phone_missing = rng.random(n) < np.where(student, 0.5, 0.18)
    phone = _join(
        _tk(["+" + c[2] + " " for c in COUNTRIES], country_idx), _istr(rng.integers(200, 1000, n)), " ",
        _istr(rng.integers(0, 10**7, n), 7),
    )

    # ---- marketing
    src = _weighted(rng, SOURCE_WEIGHTS, n)
    n_days = (t1 - t0) // _DAY_NS
    dow = (np.arange(n_days) + pd.Timestamp(t0, unit="ns").day_of_week) % 7
    day = _weighted(rng, np.where(dow >= 5, 0.3, 1.0), n)  # weekday-heavy, office hours
    sec = np.clip(rng.normal(13.5 * 3600, 3.5 * 3600, n), 0, 86_399).astype(np.int64)
    created = np.sort(t0 + day * _DAY_NS + sec * _S_NS)  # external ids follow creation order
    # calendar quarter of each lead, via the quarter starts inside the window
    q_starts = pd.period_range(
        pd.Timestamp(t0, unit="ns").to_period("Q"), pd.Timestamp(t1 - 1, unit="ns").to_period("Q"), freq="Q"
    )
    q_edges = np.array([p.start_time.value for p in q_starts], dtype=np.int64)
    q_codes = np.searchsorted(q_edges, created, side="right") - 1
    camp_tables = [CAMPAIGNS[s] for s in LEAD_SOURCES]
    camp_off = np.cumsum([0] + [len(c) for c in camp_tables])
    camp_flat = [c for cc_ in camp_tables for c in cc_]
    camp_idx = camp_off[src] + (rng.random(n) * np.diff(camp_off)[src]).astype(np.int64)
    camp_all = [f"{p.year} Q{p.quarter} {c}" for p in q_starts for c in camp_flat]
    camp_code = q_codes * len(camp_flat) + camp_idx

    newsletter = rng.random(n) < 0.3
    budget = _weighted(rng, np.array([15, 20, 65], float), n)  # yes / no / blank

    # ---- the truth
    eng = rng.normal(SOURCE_ENGAGEMENT_SHIFT[src], 1.0)
    fit = (
        SENIORITY_EFFECT[sen]
        + INDUSTRY_EFFECT[ind]
        + np.where(student, 0.0, _size_effect(size))
        + np.where(kind == 1, -0.6, 0.0)
        + SOURCE_EFFECT[src]
        + np.where(phone_missing, -0.25, 0.0)
        + np.array([1.0, -0.7, 0.0])[budget]
        + np.where(newsletter, 0.15, 0.0)
    )
    score = fit + ENGAGEMENT_COEF * eng
    p = _sigmoid(score + _calibrate_intercept(score, base_rate)) if n else np.zeros(0)
    y = rng.random(n) < p

    # ---- which leads are closed: the oldest, with jitter; close dates inside the window
    k = int(round(with_outcomes * n))
    closed = np.zeros(n, bool)
    if k:
        key = created + (rng.normal(0, 20, n) * _DAY_NS).astype(np.int64)
        closed[np.argpartition(key, k - 1)[:k] if k < n else slice(None)] = True
    cycle = np.where(y, rng.gamma(2.5, 14.0, n) + 3, rng.gamma(2.0, 20.0, n) + 2) * _DAY_NS
    room = t1 - created
    out_ns = created + np.minimum(cycle, room * rng.uniform(0.5, 0.98, n)).astype(np.int64)
    out_ns = np.maximum(out_ns // _S_NS * _S_NS, created + 3600 * _S_NS)
    outcome_code = np.where(closed, np.where(y, 0, 1), 2)

    df = pd.DataFrame(
        {
            "external_id": _series(_join("L", _istr(np.arange(1, n + 1), max(7, len(str(n)))))),
            "first_name": _series(_tk(FIRST_NAMES, fn)),
            "last_name": _series(_tk(LAST_NAMES, ln)),
            "email": _series(email),
            "phone": _series(phone, phone_missing),
            "company_name": _series(company_name),
            "job_title": _series(_tk(title_all, title_code)),
            "industry": _series(_tk(INDUSTRIES, ind)),
            "company_size": size,
            "annual_revenue": rev,
            "location": _series(_tk(loc_all, loc_code)),
            "country": _series(_tk(country_names, country_idx)),
            "website": _series(website, no_web),
            "lead_source": _series(_tk(LEAD_SOURCES, src)),
            "campaign": _series(_tk(camp_all, camp_code)),
            "description": _series(_tk(d_all, desc_code)),
            "created_at": _utc(created),
            "outcome": _series(_tk(("converted", "lost", "open"), outcome_code)),
            "outcome_date": _utc(np.where(closed, out_ns, np.iinfo(np.int64).min)),
            "favourite_color": _series(_tk(COLORS, (rng.random(n) * len(COLORS)).astype(np.int64))),
            "lead_owner_initials": _series(_tk(OWNERS, (rng.random(n) * len(OWNERS)).astype(np.int64))),
            "newsletter_subscriber": newsletter,
            "budget_confirmed": _series(_tk(("yes", "no", ""), budget)),
            "_true_probability": p,
            "_true_outcome": y,
            "_engagement": eng,
            "_seniority": _series(_tk(SENIORITIES, sen)),
        }
    )
    df.attrs["as_of"] = pd.Timestamp(t1, unit="ns", tz="UTC")
    return df


def drop_hidden(df: pd.DataFrame) -> pd.DataFrame:
    """The frame without ground-truth columns (those starting with ``_``)."""
    return df.drop(columns=[c for c in df.columns if str(c).startswith("_")])


# --------------------------------------------------------------------------- activities


def _flat(tables: dict[str, Sequence[str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    seqs = [tables[t] for t in ACTIVITY_TYPES]
    off = np.cumsum([0] + [len(s) for s in seqs])
    return [x for s in seqs for x in s], off[:-1], np.diff(off)


def _thin_to(counts: np.ndarray, cap: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Binomially thin rows of ``counts`` until every row total is <= ``cap``."""
    for _ in range(50):
        tot = counts.sum(axis=1)
        over = np.flatnonzero(tot > cap)
        if over.size == 0:
            return counts
        frac = (cap[over] / tot[over])[:, None]
        counts[over] = rng.binomial(counts[over], frac)
    # pathological leftovers: trim from the most frequent type
    tot = counts.sum(axis=1)
    for i in np.flatnonzero(tot > cap):
        while counts[i].sum() > cap[i]:
            counts[i, counts[i].argmax()] -= 1
    return counts


def generate_activities(
    leads: pd.DataFrame, *, seed: int = 0, max_per_lead: int = 30
) -> pd.DataFrame:
    """Activities for ``leads`` (a frame from :func:`generate_leads`), sorted by lead and date.

    Pre-outcome activities fall strictly between ``created_at`` and ``outcome_date`` (or the
    data set's "now", ``leads.attrs["as_of"]``, for open leads); their rates grow with the
    hidden ``_engagement``. Converted leads may also have post-outcome activities (meeting
    "Onboarding call", /docs visits), lost leads a few post-outcome newsletter opens; all
    activities are dated before "now". At most ``max_per_lead`` per lead (~8 on average).
    """
    rng = np.random.default_rng([seed, 0xAC71])
    n = len(leads)
    T = len(ACTIVITY_TYPES)
    created = leads["created_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    if "as_of" in leads.attrs:
        now = pd.Timestamp(leads.attrs["as_of"]).value
    else:
        now = (int(created.max()) // _DAY_NS + 1) * _DAY_NS if n else 0
    outcome = leads["outcome"].to_numpy(dtype=object)
    converted = outcome == "converted"
    closed = converted | (outcome == "lost")
    out_ns = leads["outcome_date"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    cutoff = np.where(closed, out_ns, now)
    if "_engagement" in leads:
        eng = leads["_engagement"].to_numpy(dtype=float)
    else:  # a frame without ground truth: a proxy, so the output stays plausible
        eng = rng.normal(0, 1, n) + np.where(converted, 0.8, 0.0)
    src_idx = pd.Categorical(leads["lead_source"], categories=LEAD_SOURCES).codes
    src_mult = np.where(src_idx[:, None] >= 0, _SOURCE_TYPE_MULT[np.maximum(src_idx, 0)], 1.0)

    # ---- post-outcome activities first (they get priority within max_per_lead)
    post_onb = converted & (rng.random(n) < 0.8)
    post_visits = np.where(converted, rng.poisson(1.0, n), 0)
    post_opens = np.where(closed & ~converted, rng.poisson(0.4, n), np.where(converted, rng.poisson(0.5, n), 0))
    post = np.stack([post_onb.astype(np.int64), post_visits, post_opens], axis=1)
    post = _thin_to(post, np.full(n, max_per_lead), rng)

    # ---- pre-outcome counts
    age_days = (cutoff - created) / _DAY_NS
    window_factor = np.where(closed, 1.0, np.clip(age_days / 30.0, 0.05, 1.0))
    chatty = np.exp(rng.normal(-0.08, 0.4, n))
    lam = _A_BASE[None, :] * np.exp(_A_BETA[None, :] * eng[:, None]) * src_mult
    lam *= np.where(_A_CHATTY[None, :], chatty[:, None], 1.0) * window_factor[:, None]
    counts = rng.poisson(lam)
    counts = _thin_to(counts, max_per_lead - post.sum(axis=1), rng)

    # ---- expand pre-outcome rows
    flat = counts.ravel()
    lead_pre = np.repeat(np.repeat(np.arange(n), T), flat)
    type_pre = np.repeat(np.tile(np.arange(T), n), flat)
    del flat
    e_row = eng[lead_pre]
    a = _A_TIME_SHAPE[type_pre] * np.exp(_A_TIME_SLOPE[type_pre] * e_row)
    u = rng.random(lead_pre.size) ** (1.0 / a)  # Beta(a, 1): later for engaged leads
    c0 = created[lead_pre]
    span = np.maximum(cutoff[lead_pre] - c0 - 120 * _S_NS, 0)
    date_pre = c0 + 60 * _S_NS + (u * span).astype(np.int64)
    del u, a, span, c0

    desc_all, d_off, d_len = _flat(_DESCRIPTIONS)
    src_all, s_off, s_len = _flat(_SOURCES)
    desc_pre = d_off[type_pre] + (rng.random(lead_pre.size) * d_len[type_pre]).astype(np.int64)
    # website pages: the last description of the block is /pricing, drawn with a weight
    # that grows with engagement; other pages by _PAGE_W
    wv = np.flatnonzero(type_pre == 0)
    page = _weighted(rng, _PAGE_W, wv.size)
    p_pricing = 0.05 + 0.3 * _sigmoid(1.5 * (e_row[wv] - 1.0))
    page = np.where(rng.random(wv.size) < p_pricing, len(_PAGES), page)
    desc_pre[wv] = d_off[0] + page
    del wv, page, p_pricing, e_row
    source_pre = s_off[type_pre] + (rng.random(lead_pre.size) * s_len[type_pre]).astype(np.int64)

    # ---- expand post-outcome rows
    P = post.shape[1]
    pflat = post.ravel()
    lead_post = np.repeat(np.repeat(np.arange(n), P), pflat)
    kind_post = np.repeat(np.tile(np.arange(P), n), pflat)
    conv_row = converted[lead_post]
    gap = np.where(kind_post == 0, rng.gamma(2.0, 3.0, lead_post.size) + 0.5, rng.gamma(1.5, 15.0, lead_post.size) + 0.2)
    date_post = out_ns[lead_post] + (gap * _DAY_NS).astype(np.int64)
    type_post = np.select(
        [kind_post == 0, kind_post == 1], [ACTIVITY_TYPES.index("meeting"), ACTIVITY_TYPES.index("website_visit")],
        ACTIVITY_TYPES.index("email_open"),
    )
    pick = rng.random(lead_post.size) < 0.5
    n_desc = len(desc_all)
    desc_post = n_desc + np.select(
        [kind_post == 0, kind_post == 1, conv_row],
        [0, np.where(pick, 1, 2), np.where(pick, 3, 4)],
        4,
    )
    source_post = len(src_all) + np.select([kind_post == 0, kind_post == 1], [0, 1], 2)
    keep = date_post < now
    lead_post, type_post, date_post = lead_post[keep], type_post[keep], date_post[keep]
    desc_post, source_post = desc_post[keep], source_post[keep]

    # ---- combine, sort by (lead, date)
    lead_i = np.concatenate([lead_pre, lead_post])
    type_i = np.concatenate([type_pre, type_post])
    date_i = np.concatenate([date_pre, date_post]) // _S_NS * _S_NS
    desc_i = np.concatenate([desc_pre, desc_post])
    src_i = np.concatenate([source_pre, source_post])
    del lead_pre, type_pre, date_pre, desc_pre, source_pre
    # one int64 key (lead, second offset): much faster than lexsort on millions of rows
    sec_i = (date_i - date_i.min(initial=0)) // _S_NS
    if lead_i.size and sec_i.max() < 2**34 and n < 2**28:
        order = np.argsort((lead_i.astype(np.int64) << 34) | sec_i, kind="stable")
    else:  # pragma: no cover - windows longer than ~500 years
        order = np.lexsort((date_i, lead_i))
    del sec_i
    lead_i, type_i, date_i, desc_i, src_i = (x[order] for x in (lead_i, type_i, date_i, desc_i, src_i))
    del order

    lead_pa = pa.array(lead_i)
    ext_s = _series(_lead_strings(leads["external_id"]).take(lead_pa))
    em_s = _series(_lead_strings(leads["email"]).take(lead_pa))
    del lead_pa
    return pd.DataFrame(
        {
            "external_id": ext_s,
            "email": em_s,
            "activity_type": _take(ACTIVITY_TYPES, type_i),
            "activity_date": _utc(date_i),
            "description": _take(list(desc_all) + list(_POST_DESCRIPTIONS), desc_i),
            "source": _take(list(src_all) + list(_POST_SOURCES), src_i),
        }
    )


def generate_demo_dataset(
    n: int = 5_000, *, seed: int = 0, start: date | None = None, end: date | None = None,
    base_rate: float = 0.12, with_outcomes: float = 0.8,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leads (ground truth kept) and their activities, for the demo workspace."""
    leads = generate_leads(n, seed=seed, start=start, end=end, base_rate=base_rate, with_outcomes=with_outcomes)
    return leads, generate_activities(leads, seed=seed)


# --------------------------------------------------------------------------- CSV

CSV_HEADERS: dict[str, str] = {
    "external_id": "Lead ID",
    "first_name": "First Name",
    "last_name": "Last Name",
    "email": "Email Address",
    "phone": "Phone Number",
    "company_name": "Company",
    "job_title": "Title",
    "industry": "Industry",
    "company_size": "# of Employees",
    "annual_revenue": "Annual Revenue",
    "location": "Location",
    "country": "Country",
    "website": "Website",
    "lead_source": "Lead Source",
    "campaign": "Campaign",
    "description": "Description",
    "created_at": "Created Date",
    "outcome": "Status",
    "outcome_date": "Close Date",
    "favourite_color": "Favourite Color",
    "lead_owner_initials": "Lead Owner",
    "newsletter_subscriber": "Newsletter Subscriber",
    "budget_confirmed": "Budget Confirmed",
}
STATUS_LABELS = {"converted": "Closed Won", "lost": "Closed Lost", "open": "Open"}
ACTIVITY_CSV_HEADERS: dict[str, str] = {
    "external_id": "Lead ID",
    "email": "Email",
    "activity_type": "Activity Type",
    "activity_date": "Activity Date",
    "description": "Description",
    "source": "Source",
}
_SIZE_BUCKETS = ((1, 10), (11, 50), (51, 200), (201, 500), (501, 1000), (1001, 5000), (5001, 10000))
CP1252_NAMES = (("first_name", "Šárka"), ("last_name", "O’Connor"), ("last_name", "Žižek"),
                ("last_name", "D’Angelo"), ("first_name", "Œlie"))


@dataclass(frozen=True)
class MessyCsvReport:
    """What a strict validator must reject in a file from :func:`write_demo_csv`.

    ``row_number`` is the 1-based data row (the first row after the header is 1; add 1 for
    the spreadsheet line). ``field`` is the CSV header at fault; a duplicate row is reported
    on "Email Address". ``reasons`` adds a human reason. Iterating gives
    ``(n_rejected, rejects)`` so ``n, rejects = write_demo_csv(...)`` works.
    """

    n_rows: int
    n_rejected: int
    rejects: list[tuple[int, str]] = field(default_factory=list)
    reasons: list[tuple[int, str, str]] = field(default_factory=list)

    def __iter__(self) -> Iterator:
        return iter((self.n_rejected, self.rejects))


def _human_frame(leads: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=range(len(leads)))
    for col, header in CSV_HEADERS.items():
        s = leads[col].reset_index(drop=True)
        if col == "created_at":
            s = s.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif col == "outcome_date":
            s = s.dt.strftime("%Y-%m-%d")
        elif col == "outcome":
            s = s.map(STATUS_LABELS)
        elif col == "newsletter_subscriber":
            s = np.where(s.to_numpy(), "Yes", "No")
        out[header] = pd.Series(s, dtype=object).where(pd.notna(s), "")
    return out


def write_demo_csv(
    path: str | PathLike[str], n: int, *, seed: int = 0, messy: bool = False,
    start: date | None = None, end: date | None = None,
) -> MessyCsvReport:
    """Write ``n`` leads (``generate_leads(n, seed=seed)``, with_outcomes 0.8) as a CSV with
    human headers (``CSV_HEADERS``), UTF-8.

    ``messy=True`` adds what real exports contain: mixed date formats, "51-200" size ranges,
    stray whitespace and cp1252-only characters in names (all acceptable), plus rows a
    strict validator must reject — invalid emails ("john@", "n/a"), non-numeric sizes
    ("lots") and one exact duplicate row. The returned report lists those rejects exactly;
    the file has ``n + 1`` data rows when messy (the duplicate), ``n`` otherwise.
    """
    leads = generate_leads(n, seed=seed, start=start, end=end, with_outcomes=0.8)
    df = _human_frame(leads)
    if not messy or n == 0:
        df.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
        return MessyCsvReport(n_rows=len(df), n_rejected=0)

    rng = np.random.default_rng([seed, 0x3E55])
    rows = rng.permutation(n)
    n_bad_email = max(2, n // 200)
    n_lots = max(1, n // 500)
    n_cp = max(1, min(len(CP1252_NAMES) * 20, n // 1000))
    bad_email = np.sort(rows[:n_bad_email])
    lots = np.sort(rows[n_bad_email:n_bad_email + n_lots])
    rest = rows[n_bad_email + n_lots:]
    dup_src = int(rest[0]) if rest.size else int(rows[0])
    cp_rows = rest[1:1 + n_cp]

    reasons: list[tuple[int, str, str]] = []  # 0-based index into df before the duplicate insert
    # invalid emails
    for j, i in enumerate(bad_email):
        local = str(df.at[i, "Email Address"]).split("@")[0]
        bad = "n/a" if j % 2 else local + "@"
        df.at[i, "Email Address"] = bad
        reasons.append((int(i), "Email Address", f"invalid email {bad!r}"))
    for i in lots:
        df.at[i, "# of Employees"] = "lots"
        reasons.append((int(i), "# of Employees", "non-numeric company size 'lots'"))
    # size ranges (valid): ~10% of the other rows
    size_vals = leads["company_size"].to_numpy()
    ranged = rest[rng.random(rest.size) < 0.10]
    for i in ranged:
        v = int(size_vals[i])
        lo_hi = next(((lo, hi) for lo, hi in _SIZE_BUCKETS if lo <= v <= hi), None)
        df.at[i, "# of Employees"] = f"{lo_hi[0]}-{lo_hi[1]}" if lo_hi else "10001+"
    # mixed date formats (valid, unambiguous)
    created = leads["created_at"]
    fmts = ("%m/%d/%Y %H:%M", "%d.%m.%Y", "%Y-%m-%d %H:%M", "%d %b %Y", "%B %d, %Y")
    which = rng.integers(-3, len(fmts), n)  # negative: keep ISO
    for f_i, fmt in enumerate(fmts):
        sel = np.flatnonzero(which == f_i)
        if f_i == 0:  # month/day only when the day makes it unambiguous
            sel = sel[created.iloc[sel].dt.day.to_numpy() > 12]
        if sel.size:
            df.loc[sel, "Created Date"] = created.iloc[sel].dt.strftime(fmt).to_numpy()
    # stray whitespace (valid after strip)
    for col in ("First Name", "Last Name", "Company", "Title", "Industry", "Lead Source"):
        sel = np.flatnonzero(rng.random(n) < 0.04)
        pads = np.array(["  {}", "{} ", " {}  ", "\t{}"], dtype=object)[rng.integers(0, 4, sel.size)]
        df.loc[sel, col] = [p.format(v) for p, v in zip(pads, df.loc[sel, col])]
    # cp1252-only characters in names (valid)
    for j, i in enumerate(cp_rows):
        col, name = CP1252_NAMES[j % len(CP1252_NAMES)]
        df.at[i, CSV_HEADERS[col]] = name
    # one exact duplicate row, right after its original
    dup_row = df.iloc[[dup_src]]
    df = pd.concat([df.iloc[: dup_src + 1], dup_row, df.iloc[dup_src + 1:]], ignore_index=True)

    def shift(i: int) -> int:  # 1-based data-row number after the insert
        return i + 1 + (1 if i > dup_src else 0)

    full = [(shift(i), f, r) for i, f, r in reasons]
    full.append((dup_src + 2, "Email Address", f"duplicate of row {dup_src + 1}"))
    full.sort()
    df.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
    return MessyCsvReport(
        n_rows=len(df),
        n_rejected=len({r for r, _, _ in full}),
        rejects=[(r, f) for r, f, _ in full],
        reasons=full,
    )


def write_activities_csv(
    path: str | PathLike[str], leads_df: pd.DataFrame, activities_df: pd.DataFrame
) -> int:
    """Write the activities of the leads in ``leads_df`` with human headers
    (``ACTIVITY_CSV_HEADERS``; ISO dates, UTF-8). Returns the number of rows written."""
    acts = activities_df[activities_df["external_id"].isin(leads_df["external_id"])]
    out = pd.DataFrame(
        {
            ACTIVITY_CSV_HEADERS[c]: (
                acts[c].dt.strftime("%Y-%m-%dT%H:%M:%SZ") if c == "activity_date" else acts[c]
            )
            for c in ACTIVITY_CSV_HEADERS
        }
    )
    out.to_csv(path, index=False, encoding="utf-8", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    return len(out)

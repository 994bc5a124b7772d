"""Demo data: synthetic leads and activities with a known conversion structure."""

from leadrank.demo.generator import (
    ACTIVITY_COLUMNS,
    ACTIVITY_TYPES,
    CSV_HEADERS,
    HIDDEN_COLUMNS,
    LEAD_COLUMNS,
    NOISE_COLUMNS,
    TRUE_DRIVERS,
    MessyCsvReport,
    drop_hidden,
    generate_activities,
    generate_demo_dataset,
    generate_leads,
    write_activities_csv,
    write_demo_csv,
)

__all__ = [
    "ACTIVITY_COLUMNS",
    "ACTIVITY_TYPES",
    "CSV_HEADERS",
    "HIDDEN_COLUMNS",
    "LEAD_COLUMNS",
    "NOISE_COLUMNS",
    "TRUE_DRIVERS",
    "MessyCsvReport",
    "drop_hidden",
    "generate_activities",
    "generate_demo_dataset",
    "generate_leads",
    "write_activities_csv",
    "write_demo_csv",
]

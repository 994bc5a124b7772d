"""ORM tables. Importing this package registers every table on ``Base.metadata``."""

from leadrank.models.activity import ACTIVITY_TYPES, Activity
from leadrank.models.base import Base
from leadrank.models.icp import IdealCustomerProfile
from leadrank.models.job import Job, JobChunk, JobReject
from leadrank.models.lead import LEAD_FIELDS, OUTCOMES, Lead, LeadExplanation, ScoreHistory
from leadrank.models.model_version import ModelVersion
from leadrank.models.scoring_config import LeadOverride, ScoringConfigVersion, ScoringHoldout, ScoringState
from leadrank.models.user import ApiKey, Membership, User
from leadrank.models.workspace import Workspace

__all__ = [
    "ACTIVITY_TYPES",
    "LEAD_FIELDS",
    "OUTCOMES",
    "Activity",
    "ApiKey",
    "Base",
    "IdealCustomerProfile",
    "Job",
    "JobChunk",
    "JobReject",
    "Lead",
    "LeadExplanation",
    "LeadOverride",
    "Membership",
    "ModelVersion",
    "ScoreHistory",
    "ScoringConfigVersion",
    "ScoringHoldout",
    "ScoringState",
    "User",
    "Workspace",
]

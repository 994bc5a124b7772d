"""ICP similarity: lead-profile embeddings, vector search, ICP fit and cold-start scores.

Database-free core: :mod:`.embeddings`, :mod:`.index`, :mod:`.icp`, :mod:`.seniority`,
:mod:`.coldstart`. Storage: :mod:`.pgstore` (pgvector) and :mod:`.store`
(in-process fallback + :func:`~.store.open_store`).
"""

from leadrank.similarity.coldstart import (
    MIN_OUTCOMES_FOR_MODEL,
    MIN_PER_CLASS_FOR_MODEL,
    cold_start_scores,
    default_icp,
    explain,
    should_use_model,
    workspace_prior,
)
from leadrank.similarity.embeddings import (
    EmbeddingProvider,
    EmbeddingUnavailable,
    LocalProvider,
    OpenAIProvider,
    content_hash,
    get_provider,
    has_profile,
    local_provider,
    profile_text,
    provider_from_settings,
)
from leadrank.similarity.icp import ICP, icp_components, icp_fit
from leadrank.similarity.index import BruteForceIndex, InProcessIndex, VectorIndex
from leadrank.similarity.seniority import seniority

__all__ = [
    "ICP", "MIN_OUTCOMES_FOR_MODEL", "MIN_PER_CLASS_FOR_MODEL", "BruteForceIndex",
    "EmbeddingProvider", "EmbeddingUnavailable", "InProcessIndex", "LocalProvider",
    "OpenAIProvider", "VectorIndex", "cold_start_scores", "content_hash", "default_icp",
    "explain", "get_provider", "has_profile", "icp_components", "icp_fit", "local_provider",
    "profile_text", "provider_from_settings", "seniority", "should_use_model", "workspace_prior",
]

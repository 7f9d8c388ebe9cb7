"""The adaptive cache: exact, verified-reuse and near-duplicate tiers."""

from .entry import CacheEntry, CacheHit
from .manager import CacheManager, Lookup, Nearest
from .policy import POLICIES, ThresholdPolicy, make_policy
from .reuse import LogTemplateReuser, Reuser, make_reuser

__all__ = ["CacheEntry", "CacheHit", "CacheManager", "Lookup", "Nearest", "Reuser", "LogTemplateReuser", "make_reuser",
           "POLICIES", "ThresholdPolicy", "make_policy"]

"""Moved to :mod:`remediator.evidence.nearest` (detectors use it too); kept so older imports work."""

from remediator.evidence.nearest import distance, near_names, nearest

__all__ = ["distance", "near_names", "nearest"]

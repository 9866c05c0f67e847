"""remediator: diagnose Degraded Argo CD applications and propose GitOps fixes."""

__version__ = "0.1.0"

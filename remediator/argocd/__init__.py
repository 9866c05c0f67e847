"""The Argo CD REST API."""

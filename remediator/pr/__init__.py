"""Pull request providers behind one interface (``base.Provider``): GitHub (PyGithub) and local files.
A new provider (GitLab, ...) is one more module implementing ``Provider``."""

"""Git workspaces: cached clones, branches, commits, pushes."""

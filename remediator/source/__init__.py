"""Where an app's objects come from in Git, and how to edit them there."""

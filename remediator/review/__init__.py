"""``remediator review``: static checks on the manifests a pull request changes, catching before
deploy what the detectors find after it."""

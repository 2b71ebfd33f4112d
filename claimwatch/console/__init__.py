"""The review console: the rights team's pages over the alerts, the review queue, dispute risk,
the weekly reports and the quarantine (``claimwatch console``; :mod:`claimwatch.console.server`)."""

"""The weekly batch job: summary and dispute-risk report."""

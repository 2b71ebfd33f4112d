"""The streaming path: topics, ingestors, the Faust worker and the alert consumers."""

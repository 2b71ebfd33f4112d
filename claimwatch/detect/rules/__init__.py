"""Alert rules: small pure functions that turn a finding into a :class:`Candidate`.

``Monitor`` keeps the state and decides *when* a rule is asked; a rule says *what* the alert is:
its type, severity (from :mod:`claimwatch.detect.policy`), score, subject, title, evidence and
identity. Grouped by domain: :mod:`.spikes`, :mod:`.claims`, :mod:`.rights`, :mod:`.risk`. No rule
reads a clock, a file or a setting it is not given, so each is tested by calling it.
"""

"""The front of the pipeline: what happens between reading records and applying them.

Readers (:mod:`claimwatch.ingest`) turn files into events and quarantine entries; the detection core
(:mod:`claimwatch.detect`) applies events. Between the two, every run (the embedded run, ``ingest``,
replay's inputs) puts events in one order (:mod:`.order`), drops what repeats (:mod:`.spool` does it
on disk, in bounded memory) and counts what each file gave (:mod:`.filerows`). :class:`.prepare.Front`
is all of it in one place: the embedded run and ``ingest`` are I/O loops over it.
"""

from claimwatch.front.order import KIND_ORDER, order_events

__all__ = ["KIND_ORDER", "order_events"]

"""The pure detection core shared by the embedded run, the stream worker, replay and batch."""

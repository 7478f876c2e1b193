"""Test and benchmark support: random-weight checkpoints and the read-only `../shared` data."""

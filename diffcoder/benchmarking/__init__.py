"""Benchmarks that print figures (`diffcoder bench …`); never timed unit tests."""

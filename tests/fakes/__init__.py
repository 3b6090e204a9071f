"""Loopback fake servers for each network, shared by tests and benchmarks (DESIGN.md §4)."""

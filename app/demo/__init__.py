"""A realistic made-up clinic for trying Frontdesk and for benchmarks."""

"""Side-by-side benchmarks: every case is timed against its peers in one run."""

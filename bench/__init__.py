"""Load and latency benchmarks: they drive Payfriend through the sandbox and print JSON figures."""

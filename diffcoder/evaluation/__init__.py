"""`diffcoder eval`: edit and infill benchmarks judged by hidden tests run in a sandbox."""

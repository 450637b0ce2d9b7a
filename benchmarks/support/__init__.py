"""What the benchmark scripts beside this folder share (data of the paper's sizes, measured runs, child processes in
another checkout); nothing here is an entry point. The scripts import it as ``support`` (their own folder is on the
path when they run), the tests as ``benchmarks.support``."""

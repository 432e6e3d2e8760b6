"""Use cases: each loads, asks the domain to decide, writes, and commits once."""

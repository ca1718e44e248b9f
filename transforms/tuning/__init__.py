"""The tuning lab: score SM-2 parameter sets on real history, search them, simulate them."""

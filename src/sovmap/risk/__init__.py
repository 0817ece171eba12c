"""Risk, explained: pure scores over a register and a policy file, each listing its facts."""

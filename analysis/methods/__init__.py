"""The assignment methods (networks and permutation baselines), each with its adapter."""

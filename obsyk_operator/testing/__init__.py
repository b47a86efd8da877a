"""Stand-ins for trying and testing the operator without a cluster (not used when it runs)."""

"""A deterministic generator of realistic landing folders (manifests, cohorts, attempt logs)."""

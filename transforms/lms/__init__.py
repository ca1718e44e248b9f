"""Course platforms (lms.md): content trees, learning events, and progress through them."""

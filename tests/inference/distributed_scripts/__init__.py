"""Scripts the distributed tests start as separate processes."""

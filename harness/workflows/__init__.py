"""What a user runs: the check pipeline, the edit-rebuild-test loop, fuzz runs."""

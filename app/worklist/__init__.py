"""The worklist: searching the cache, assignments, shares."""

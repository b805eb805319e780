"""Retrieving from a node into the cache: C-GET and C-MOVE, by study or series."""

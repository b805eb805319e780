"""Importing files, folders, ZIPs, discs and the demo set into the cache."""

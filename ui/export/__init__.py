"""Leaving the workstation: ZIP download and disc burning."""

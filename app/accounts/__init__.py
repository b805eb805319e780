"""Accounts, privileges and the audit trail."""

"""Shared plumbing of both packages: input validation, the result base, file writing.

Private: ``sampling`` imports it, users do not. Nothing here is re-exported.
"""

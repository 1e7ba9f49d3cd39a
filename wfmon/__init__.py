"""wfmon."""

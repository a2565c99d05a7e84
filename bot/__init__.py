"""Tandem core: the AI drafts, humans stay in control. Knows no platform SDK."""

"""Annotation tools (pure): the geometry of each tool as a proposed edit."""

"""The Obsyk operator."""

"""Task-side helpers: argument resolution, OpenLineage and asset events."""

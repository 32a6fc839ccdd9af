"""Writing the lake: windows, part formats and the per-destination commit (``lake.s3``)."""

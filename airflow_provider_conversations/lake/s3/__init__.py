"""The S3 layout: partition keys, manifests, the window lease and the table guard."""

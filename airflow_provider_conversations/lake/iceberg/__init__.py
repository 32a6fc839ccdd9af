"""The conversations as an Apache Iceberg table: the catalog, the table's shape, and the sink that commits windows.

Needs the ``[iceberg]`` extra (``pyiceberg`` and ``apache-airflow-providers-apache-iceberg``);
:func:`~.catalog.require_iceberg` says so before any I/O. Nothing here is imported by the S3 path.
"""

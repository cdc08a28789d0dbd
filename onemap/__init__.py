"""The ``onemap`` command: wiring over etl, layers and dashboards."""

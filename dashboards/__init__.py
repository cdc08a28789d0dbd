"""The Dash app: map, filters, KPI tiles. Callbacks are thin adapters over plain functions."""

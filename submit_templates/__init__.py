"""Job-script templates, shipped as package data."""

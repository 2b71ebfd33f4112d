"""Realistic labelled sample data."""

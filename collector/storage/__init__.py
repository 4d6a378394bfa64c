"""Durable local storage (write-ahead logs) of components that must not lose accepted data."""

"""Imports every component module so that its `@register` runs. One line per component."""

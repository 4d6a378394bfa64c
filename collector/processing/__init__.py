"""Sans-IO helpers for processors and connectors: detection, attribute actions, AnyValue conversion."""

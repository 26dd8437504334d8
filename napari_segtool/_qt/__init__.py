"""Qt widgets of the plugin (the only modules that import Qt)."""

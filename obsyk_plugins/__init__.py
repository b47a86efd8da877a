"""Built-in Obsyk plugins: the core kinds, storage and cache backends. Each module is one plugin."""

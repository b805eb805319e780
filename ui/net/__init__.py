"""Remote nodes: query/retrieve source, send, listener, nodes page."""

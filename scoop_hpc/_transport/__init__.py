"""Message transports: the wire format, and the ZeroMQ implementation."""

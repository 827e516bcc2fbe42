"""Sharing room: the live stream served to other programs (WebSocket/HTTP); never the driver."""

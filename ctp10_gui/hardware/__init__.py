"""The CTP10 driver: transport, declared controls, the instrument; plain Python, no Qt."""

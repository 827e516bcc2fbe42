"""The built-in CTP10: a real TCP SCPI server with lab-like physics and injectable faults."""

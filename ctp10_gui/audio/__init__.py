"""The alignment tone: pitch follows optical power. Synthesis is plain numpy; no Qt here."""

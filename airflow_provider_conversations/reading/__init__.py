"""Reading a timestamp range of a list endpoint: keyset and numbered walks, every record once."""

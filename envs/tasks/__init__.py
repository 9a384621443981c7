"""Task logic (initial distribution, reward, success), written once and independent of the backend."""

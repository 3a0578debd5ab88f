"""Hotline extras for the 12345 operator: caller history, duplicate candidates, knowledge-base answers."""

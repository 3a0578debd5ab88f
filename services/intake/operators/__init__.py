"""Operator accounts (话务员 / 班长) of the hotline: passwords for the console, API keys for clients."""

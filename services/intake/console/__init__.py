"""The 12345 operator console (话务员受理台): one page that drives the hotline JSON APIs."""

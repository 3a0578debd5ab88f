"""Dispatch web pages: public tracking ``/track``, handler page ``/handler``, dispatcher workbench ``/workbench``."""

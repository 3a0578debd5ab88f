"""The command-center big screen (指挥中心大屏): ``GET /display``."""

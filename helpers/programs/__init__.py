"""Programs beside the kernel: processes that die with it, Redis, nginx, Chromium's path."""

"""Clients of a chat server: widget chat clients, their transports, the command line, probes.

They connect to a server as any client does, over websockets or Socket.IO; nothing here
imports the server's modules (a client knows only the kernel's running server, through
``helpers.kernel.lifecycle``, to follow it when it restarts).
"""

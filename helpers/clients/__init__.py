"""Clients of a chat server: widget chat clients, their transports, the command line, probes.

They connect to a server as any client does, over websockets or Socket.IO, and import nothing
of the server or the kernel's tools: a widget follows this kernel's servers (restarted,
handed over, shared with a key) through ``helpers.common.signals``.
"""

"""The per-process task scheduler: futures, greenlets, waiting, callbacks.

It is the only user of greenlets and imports no concrete transport: the
worker hands it an endpoint (``_transport.base.Endpoint``) or none at all
(serial mode, when a program runs without the launcher).
"""

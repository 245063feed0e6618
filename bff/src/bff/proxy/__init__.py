"""The HTTP edge: the server (strict parsing, timeouts), the proxy app and its upstream client.

``server`` reads requests from clients; ``app`` routes and proxies them; ``paths`` and ``headers``
hold the rules for what may be forwarded; ``client`` speaks HTTP/1.1 to an upstream over the
connections ``pool`` keeps; ``circuit`` stops calling an upstream that keeps failing.
"""

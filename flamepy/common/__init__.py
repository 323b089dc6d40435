"""The shared layer: what the SDK and the servers both use.

Wire conversion of our dataclasses (:mod:`.convert`, :mod:`.cache_convert`), batching of runs
(:mod:`.batches`), the server-side mapping of :class:`~flamepy.errors.FlameError` to gRPC status
(:mod:`.grpc_status`), the same-host frame protocols (:mod:`.taskpipe`, :mod:`.localpipe`) and the
serve-until-signal loop of every server process (:mod:`.serve`). Public to this repository's
packages: servers import these modules, never an underscore module of :mod:`flamepy`.
"""
